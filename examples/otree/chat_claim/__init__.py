from otree.api import *

doc = """
Talk, then claim: two players first chat with oTree's chat widget (as long as
they like; each goes on with Next), then each claims part of 100 points. If the
claims add up to 100 or less, each gets their claim; otherwise both get nothing.
"""


class C(BaseConstants):
    NAME_IN_URL = "chat_claim"
    PLAYERS_PER_GROUP = 2
    NUM_ROUNDS = 1
    POT = 100


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    total_claim = models.IntegerField()


class Player(BasePlayer):
    claim = models.IntegerField(label="How many of the 100 points do you claim?", min=0, max=C.POT)


def settle(group: Group):
    group.total_claim = sum(p.claim for p in group.get_players())
    for player in group.get_players():
        player.payoff = player.claim if group.total_claim <= C.POT else 0


class Chat(Page):
    @staticmethod
    def vars_for_template(player: Player):
        return dict(nickname=f"Player {player.id_in_group}")


class Claim(Page):
    form_model = "player"
    form_fields = ["claim"]


class ClaimWaitPage(WaitPage):
    after_all_players_arrive = settle


class Results(Page):
    pass


page_sequence = [Chat, Claim, ClaimWaitPage, Results]
