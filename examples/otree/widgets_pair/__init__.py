from otree.api import *

doc = """
Two players answer a questionnaire with every form widget oTree renders, then
each chooses with a button (there is no next button on that page) to
cooperate or defect. Wait pages keep the pair in step.
"""


class C(BaseConstants):
    NAME_IN_URL = "widgets_pair"
    PLAYERS_PER_GROUP = 2
    NUM_ROUNDS = 1
    BOTH_COOPERATE = cu(60)
    BOTH_DEFECT = cu(20)
    DEFECTOR_GAINS = cu(90)
    COOPERATOR_LOSES = cu(0)


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    cooperators = models.IntegerField(initial=0)


class Player(BasePlayer):
    nickname = models.StringField(
        label="Which nickname would you like to use in this study?", max_length=30
    )
    motivation = models.LongStringField(
        label="In one or two sentences: why did you take part in this study?"
    )
    age = models.IntegerField(label="How old are you?", min=18, max=99)
    expected_share = models.FloatField(
        label="What share of a pie (a number from 0 to 1) would you offer a stranger?",
        min=0,
        max=1,
    )
    likes_puzzles = models.BooleanField(label="Do you enjoy solving puzzles?")
    favourite_colour = models.StringField(
        label="Which of these colours do you like most?",
        choices=["Red", "Green", "Blue", "Yellow"],
    )
    risk_attitude = models.IntegerField(
        label="How do you usually deal with financial risks?",
        choices=[[1, "I avoid them"], [2, "I am neutral"], [3, "I seek them"]],
        widget=widgets.RadioSelect,
    )
    trust = models.IntegerField(
        label="How much do you trust strangers (1 = not at all, 5 = completely)?",
        choices=[1, 2, 3, 4, 5],
        widget=widgets.RadioSelectHorizontal,
    )
    consent = models.BooleanField(
        label="Tick the box if you agree that your anonymised answers may be published.",
        widget=widgets.CheckboxInput,
        blank=True,
    )
    cooperate = models.BooleanField(
        label="Do you cooperate or defect?",
        choices=[[True, "Cooperate"], [False, "Defect"]],
    )


def set_payoffs(group: Group):
    first, second = group.get_players()
    group.cooperators = int(first.cooperate) + int(second.cooperate)
    for player, other in ((first, second), (second, first)):
        if player.cooperate and other.cooperate:
            player.payoff = C.BOTH_COOPERATE
        elif player.cooperate:
            player.payoff = C.COOPERATOR_LOSES
        elif other.cooperate:
            player.payoff = C.DEFECTOR_GAINS
        else:
            player.payoff = C.BOTH_DEFECT


def is_last_app(player: Player) -> bool:
    return player.session.config["app_sequence"][-1] == C.NAME_IN_URL


class Introduction(Page):
    pass


class Questionnaire(Page):
    form_model = "player"
    form_fields = [
        "nickname",
        "motivation",
        "age",
        "expected_share",
        "likes_puzzles",
        "favourite_colour",
        "risk_attitude",
        "trust",
        "consent",
    ]


class PairWaitPage(WaitPage):
    body_text = "Please wait until the other participant has answered the questionnaire."


class Decision(Page):
    form_model = "player"
    form_fields = ["cooperate"]


class ResultsWaitPage(WaitPage):
    after_all_players_arrive = set_payoffs


class Results(Page):
    @staticmethod
    def vars_for_template(player: Player):
        return dict(other=player.get_others_in_group()[0])


class Goodbye(Page):
    is_displayed = is_last_app


page_sequence = [
    Introduction,
    Questionnaire,
    PairWaitPage,
    Decision,
    ResultsWaitPage,
    Results,
    Goodbye,
]
