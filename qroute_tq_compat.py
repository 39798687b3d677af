import importlib.abc
import importlib.machinery
import sys
import types
class _F(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name == "torchquantum.dataset":
            return importlib.machinery.ModuleSpec(name, self)
    def create_module(self, spec):
        return types.ModuleType(spec.name)
    def exec_module(self, m): pass
sys.meta_path.insert(0, _F())
