"""Launchers: how a block's job starts the pool command (``parsl.launchers``)."""
from chervil.launchers.launchers import Launcher, SimpleLauncher, SingleNodeLauncher, SrunLauncher

__all__ = ['Launcher', 'SimpleLauncher', 'SingleNodeLauncher', 'SrunLauncher']
