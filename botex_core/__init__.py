"""botex-fleet's parts below the fleet: settings, the store, the oTree interface, the LLM client and the bot.

Nothing here queues bots or imports the fleet (``botex_worker``); the public
API, with the names of the original botex, is :mod:`botex_fleet`.
"""
