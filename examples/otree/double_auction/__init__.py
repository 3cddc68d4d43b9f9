from otree.api import *

doc = """
A double auction on a live page: buyers bid and sellers ask for one unit each,
through the page's input and button (liveSend). The server matches a bid with
the lowest ask at or below it (and an ask with the highest bid at or above it)
at the price that was standing, and shows every offer and trade to everyone.
The market closes when its timer runs out (market_seconds in the session
config, default 60). Odd players buy, even players sell.
"""


class C(BaseConstants):
    NAME_IN_URL = "double_auction"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1
    VALUES = (90, 80, 70, 60)
    COSTS = (20, 30, 40, 50)
    MAX_PRICE = 100


class Subsession(BaseSubsession):
    pass


def creating_session(subsession: Subsession):
    for player in subsession.get_players():
        index = (player.id_in_group - 1) // 2 % len(C.VALUES)
        player.is_buyer = player.id_in_group % 2 == 1
        player.limit = C.VALUES[index] if player.is_buyer else C.COSTS[index]


class Group(BaseGroup):
    trades = models.IntegerField(initial=0)


class Player(BasePlayer):
    is_buyer = models.BooleanField()
    limit = models.IntegerField()
    offer = models.IntegerField(blank=True)
    offers_made = models.IntegerField(initial=0)
    traded = models.BooleanField(initial=False)
    price = models.IntegerField(blank=True)


def role_name(player: Player) -> str:
    return "buyer" if player.is_buyer else "seller"


def market(group: Group) -> dict:
    open_offers = [p for p in group.get_players() if not p.traded and p.field_maybe_none("offer") is not None]
    bids = sorted((p.offer for p in open_offers if p.is_buyer), reverse=True)
    asks = sorted(p.offer for p in open_offers if not p.is_buyer)
    trades = [f"Player {p.id_in_group} ({role_name(p)}) traded at {p.price}"
              for p in group.get_players() if p.traded]
    return dict(bids=bids, asks=asks, trades=trades)


def try_to_trade(player: Player) -> None:
    others = [p for p in player.group.get_players()
              if p.is_buyer != player.is_buyer and not p.traded and p.field_maybe_none("offer") is not None]
    if player.is_buyer:
        matching = [p for p in others if p.offer <= player.offer]
        partner = min(matching, key=lambda p: p.offer, default=None)
    else:
        matching = [p for p in others if p.offer >= player.offer]
        partner = max(matching, key=lambda p: p.offer, default=None)
    if partner is None:
        return
    for trader in (player, partner):
        trader.traded = True
        trader.price = partner.offer
        trader.payoff = trader.limit - partner.offer if trader.is_buyer else partner.offer - trader.limit
    player.group.trades += 1


class Market(Page):
    @staticmethod
    def get_timeout_seconds(player: Player):
        return player.session.config.get("market_seconds", 60)

    @staticmethod
    def vars_for_template(player: Player):
        return dict(role=role_name(player))

    @staticmethod
    def js_vars(player: Player):
        return dict(my_id=player.id_in_group)

    @staticmethod
    def live_method(player: Player, data):
        offer = data.get("offer") if isinstance(data, dict) else None
        if isinstance(offer, int) and 0 <= offer <= C.MAX_PRICE and not player.traded:
            player.offer = offer
            player.offers_made += 1
            try_to_trade(player)
        state = market(player.group)
        return {p.id_in_group: {**state, "traded": p.traded, "price": p.field_maybe_none("price")}
                for p in player.group.get_players()}


class Results(Page):
    @staticmethod
    def vars_for_template(player: Player):
        return dict(role=role_name(player))


page_sequence = [Market, Results]
