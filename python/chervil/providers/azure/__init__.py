"""``parsl.providers.azure``."""
from chervil.providers.azure.azure import AzureProvider

__all__ = ['AzureProvider']
