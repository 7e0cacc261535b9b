"""One Azure VM per block through the az CLI (run `az login` first). Fill in the image and
size; the admin user logs in with your SSH public key."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.providers import AzureProvider

vm_reference = {
    'admin_username': 'YOUR_ADMIN_USERNAME_FOR_INSTANCE',
    'vm_size': 'Standard_D2s_v3',
    'disk_size_gb': 64,
    'publisher': 'Canonical',
    'offer': '0001-com-ubuntu-server-jammy',
    'sku': '22_04-lts',
    'version': 'latest',
}

config = Config(executors=[HighThroughputExecutor(
    label='azure_single_node',
    provider=AzureProvider(vm_reference=vm_reference, ssh_public_key='~/.ssh/id_ed25519.pub'))])
