from chervil.providers.aws.aws import AWSProvider

__all__ = ['AWSProvider']
