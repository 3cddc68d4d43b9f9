from otree.api import *

doc = """
A game in turns, played on a live page: two players add 1, 2 or 3 to a running
total, one after the other, with the page's buttons (liveSend). Whoever brings
the total to the target wins, and the game ends only then: the server tells both
pages, and each submits itself. The target comes from the session config
(race_target, default 15).
"""


class C(BaseConstants):
    NAME_IN_URL = "race_game"
    PLAYERS_PER_GROUP = 2
    NUM_ROUNDS = 1
    STEPS = (1, 2, 3)


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    total = models.IntegerField(initial=0)
    turn = models.IntegerField(initial=1)
    winner = models.IntegerField(initial=0)
    history = models.LongStringField(initial="")


class Player(BasePlayer):
    moves = models.IntegerField(initial=0)
    won = models.BooleanField(initial=False)


def target(group: Group) -> int:
    return group.session.config.get("race_target", 15)


def state(group: Group) -> dict:
    return dict(total=group.total, target=target(group), turn=group.turn, winner=group.winner,
                history=group.history.splitlines()[-8:])


class Race(Page):
    @staticmethod
    def vars_for_template(player: Player):
        return dict(target=target(player.group))

    @staticmethod
    def js_vars(player: Player):
        return dict(my_id=player.id_in_group)

    @staticmethod
    def live_method(player: Player, data):
        group = player.group
        step = data.get("add") if isinstance(data, dict) else None
        if step in C.STEPS and group.winner == 0 and group.turn == player.id_in_group:
            group.total = min(target(group), group.total + step)
            player.moves += 1
            group.history += f"Player {player.id_in_group} added {step}: the total is {group.total}\n"
            if group.total >= target(group):
                group.winner = player.id_in_group
                player.won = True
            else:
                group.turn = 3 - group.turn
        return {0: state(group)}


class Results(Page):
    @staticmethod
    def vars_for_template(player: Player):
        return dict(target=target(player.group))


page_sequence = [Race, Results]
