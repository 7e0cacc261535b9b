"""One EC2 instance per block through the aws CLI. Set the AMI, region and key name."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.providers import AWSProvider

config = Config(executors=[HighThroughputExecutor(
    label='ec2_single_node',
    provider=AWSProvider('YOUR_AMI_ID', region='YOUR_AWS_REGION', key_name='YOUR_KEY_NAME', profile='default',
                         state_file='awsproviderstate.json', nodes_per_block=1, init_blocks=1, max_blocks=1,
                         min_blocks=0, walltime='01:00:00'))])
