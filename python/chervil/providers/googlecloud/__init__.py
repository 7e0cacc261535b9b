from chervil.providers.googlecloud.googlecloud import GoogleCloudProvider

__all__ = ['GoogleCloudProvider']
