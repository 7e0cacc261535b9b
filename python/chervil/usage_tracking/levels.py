"""``LEVEL_1`` … ``LEVEL_3`` as in Parsl (``Config(usage_tracking=LEVEL_1)``); Chervil
reports nothing at any level."""
DISABLED = 0
LEVEL_1 = 1
LEVEL_2 = 2
LEVEL_3 = 3
