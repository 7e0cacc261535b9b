"""How a preset that Chervil cannot express says so."""
from chervil.errors import ConfigurationError


def unavailable(preset: str, needs: str) -> ConfigurationError:
    return ConfigurationError(
        f"the Parsl preset parsl.configs.{preset} needs {needs}, which Chervil does not have; "
        "write a Config with HighThroughputExecutor and the provider for your site instead "
        "(see chervil.configs.htex_local and the provider table of Chervil's docs (docs/guide/blocks.md)), or run this script with Parsl")
