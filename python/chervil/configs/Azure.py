"""Parsl's ``Azure`` preset: Chervil cannot express it (it needs AzureProvider (not in Chervil yet))."""
from chervil.configs._unavailable import unavailable

raise unavailable('Azure', 'AzureProvider (not in Chervil yet)')
