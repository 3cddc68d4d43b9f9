from otree.api import *

doc = """
A page made by JavaScript: the price is fetched from the server over a live
connection when the page opens, shown on the page, and written by a script
into a hidden field of the form. A bot needs a browser for it; the other
pages are plain server-rendered pages.
"""


class C(BaseConstants):
    NAME_IN_URL = "live_price"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1
    PRICE = 42


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    price_seen = models.IntegerField()
    bid = models.IntegerField(label="How many points do you bid for the good?", min=0, max=100)
    comment = models.StringField(label="In a few words: why this bid?")


class Introduction(Page):
    pass


class Market(Page):
    form_model = "player"
    form_fields = ["price_seen", "bid"]

    @staticmethod
    def live_method(player: Player, data):
        return {player.id_in_group: dict(price=C.PRICE)}


class Reflection(Page):
    form_model = "player"
    form_fields = ["comment"]


class Results(Page):
    pass


page_sequence = [Introduction, Market, Reflection, Results]
