"""Launchers: how a block's job starts the pool command (``parsl.launchers``)."""
from chervil.launchers.launchers import (AprunLauncher, GnuParallelLauncher, JsrunLauncher, Launcher,
                                         MpiExecLauncher, MpiRunLauncher, SimpleLauncher, SingleNodeLauncher,
                                         SrunLauncher, SrunMPILauncher, WrappedLauncher)

__all__ = ['AprunLauncher', 'GnuParallelLauncher', 'JsrunLauncher', 'Launcher', 'MpiExecLauncher',
           'MpiRunLauncher', 'SimpleLauncher', 'SingleNodeLauncher', 'SrunLauncher', 'SrunMPILauncher',
           'WrappedLauncher']
