"""Sphinx configuration for Chervil's documentation (``make docs``).

Built offline with warnings as errors; the examples in ``.. testcode::`` blocks run in
``make docs`` (Sphinx's doctest builder), each on a fresh run directory."""
import os
import sys

project = 'Chervil'
author = 'the Chervil developers'
copyright = '2026, the Chervil developers'

extensions = ['sphinx.ext.autodoc', 'sphinx.ext.napoleon', 'sphinx.ext.doctest', 'sphinx.ext.viewcode', 'myst_parser']
# Pages moved from the README stay Markdown (MyST); the rest is reStructuredText.
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_heading_anchors = 3  # `[text](page.md#a-heading)` links work, and are checked
html_theme = 'furo'
html_title = 'Chervil'
templates_path = []
exclude_patterns = ['_build']
nitpicky = True  # a reference to something undocumented is an error (warnings are errors)
# Offline (no intersphinx): the standard library's and typing's names are not linked.
nitpick_ignore_regex = [('py:class', r'(concurrent\.futures\..*|os\.PathLike|typing\..*|collections\.abc\..*|'
                                      r'abc\.ABC|Exception|BaseException|RuntimeError|ValueError|TypeError|object|'
                                      r'int|str|float|bool|dict|list|tuple|None|Any|Callable|Optional|Union|List|Dict|'
                                      r'Sequence|Tuple|Literal|logging\..*|contextlib\..*)'),
                        ('py:exc', r'.*Error'), ('py:obj', r'typing\..*'),
                        ('py:class', r'.*\._[A-Za-z]\w*'),  # private helper bases
                        ('py:class', r'chervil\.concurrent\.T'), ('py:class', r'chervil\.app\.python\.PythonApp')]
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {'members': True, 'show-inheritance': True}
napoleon_numpy_docstring = True
napoleon_google_docstring = False

# Each example runs in a scratch directory of its own, so runinfo/ and files land there.
doctest_global_setup = '''
import os, shutil, tempfile
_docs_cwd = os.getcwd()
_docs_scratch = tempfile.mkdtemp(prefix='chervil-docs-')
os.chdir(_docs_scratch)
'''
doctest_global_cleanup = '''
import chervil
chervil.clear()
os.chdir(_docs_cwd)
shutil.rmtree(_docs_scratch, ignore_errors=True)
'''

sys.path.insert(0, os.path.abspath(os.path.dirname(__file__)))


def _examples_run_or_say_why(app, doctree):
    """Every Python example either runs in the doctest pass (``.. testcode::``) or says what
    it needs that the build machine lacks (``:caption: needs a cluster``); anything else is
    a warning, so ``make docs`` (warnings as errors) fails on an example nobody runs."""
    from docutils import nodes
    from sphinx.util import logging
    logger = logging.getLogger('chervil-docs')
    for node in doctree.findall(nodes.literal_block):
        if node.get('testnodetype') or node.get('language') not in ('python', 'py', 'python3', 'pycon'):
            continue
        parent = node.parent
        caption = parent.next_node(nodes.caption) if isinstance(parent, nodes.container) else None
        if caption is None or not caption.astext().startswith('needs '):
            logger.warning("this Python example is never run: make it a `.. testcode::` block, or give it "
                           "`:caption: needs …` saying what it needs that the build lacks", location=node)


# The modules whose ``__all__`` is Chervil's public surface: every name they export must be
# documented in the reference (under any of its import paths), or the build fails.
PUBLIC_MODULES = ['chervil', 'chervil.executors', 'chervil.providers', 'chervil.launchers',
                  'chervil.monitoring', 'chervil.dataflow.memoization', 'chervil.data_provider.http']


def _public_surface_documented(app, env):
    import importlib
    from sphinx.util import logging
    logger = logging.getLogger('chervil-docs')

    def resolve(dotted):
        parts = dotted.split('.')
        for i in range(len(parts) - 1, 0, -1):
            try:
                obj = importlib.import_module('.'.join(parts[:i]))
            except ImportError:
                continue
            try:
                for attr in parts[i:]:
                    obj = getattr(obj, attr)
                return obj
            except AttributeError:
                return None
        return None

    # a bound method (chervil.load is the loader's) is a new object at each access
    def key(obj):
        return id(getattr(obj, '__func__', obj))
    documented = {key(o) for o in map(resolve, env.get_domain('py').objects) if o is not None}
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            value = getattr(module, attr)
            if isinstance(value, (str, int, float, list, tuple, dict, frozenset)):
                continue  # constants (AUTO_LOGNAME, CHECKPOINT_MODES) are described in the guide
            if key(value) not in documented:
                logger.warning(f"{name}.{attr} is public ({name}.__all__) but not in the API reference: "
                               f"add it to docs/reference.rst")


def setup(app):
    app.connect('doctree-read', _examples_run_or_say_why)
    app.connect('env-check-consistency', _public_surface_documented)
