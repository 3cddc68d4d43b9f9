from otree.api import *

doc = """
Groups of three each guess a whole number from 0 to 100. The guess closest to
two thirds of the group's average wins the jackpot (shared on a tie). Three
rounds, with the results shown after each.
"""


class C(BaseConstants):
    NAME_IN_URL = "guess_two_thirds"
    PLAYERS_PER_GROUP = 3
    NUM_ROUNDS = 3
    JACKPOT = cu(100)
    GUESS_MAX = 100


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    two_thirds_avg = models.FloatField()
    best_guess = models.IntegerField()
    num_winners = models.IntegerField()


class Player(BasePlayer):
    guess = models.IntegerField(
        min=0, max=C.GUESS_MAX, label="Please pick a whole number from 0 to 100:"
    )
    is_winner = models.BooleanField(initial=False)


def set_payoffs(group: Group):
    players = group.get_players()
    guesses = [p.guess for p in players]
    group.two_thirds_avg = round(2 / 3 * sum(guesses) / len(guesses), 2)
    group.best_guess = min(guesses, key=lambda guess: abs(guess - group.two_thirds_avg))
    winners = [p for p in players if p.guess == group.best_guess]
    group.num_winners = len(winners)
    for player in winners:
        player.is_winner = True
        player.payoff = C.JACKPOT / group.num_winners


def earlier_two_thirds(group: Group):
    return [g.two_thirds_avg for g in group.in_previous_rounds()]


class Introduction(Page):
    @staticmethod
    def is_displayed(player: Player):
        return player.round_number == 1


class Guess(Page):
    form_model = "player"
    form_fields = ["guess"]

    @staticmethod
    def vars_for_template(player: Player):
        return dict(earlier=earlier_two_thirds(player.group))


class ResultsWaitPage(WaitPage):
    after_all_players_arrive = set_payoffs


class Results(Page):
    @staticmethod
    def vars_for_template(player: Player):
        return dict(guesses=sorted(p.guess for p in player.group.get_players()))


class Goodbye(Page):
    @staticmethod
    def is_displayed(player: Player):
        last_app = player.session.config["app_sequence"][-1] == C.NAME_IN_URL
        return last_app and player.round_number == C.NUM_ROUNDS


page_sequence = [Introduction, Guess, ResultsWaitPage, Results, Goodbye]
