"""Print what the build needs to know about this interpreter, one per line."""
import os
import sys
import sysconfig

print("%d.%d.%d" % sys.version_info[:3])
print(sysconfig.get_paths()["include"])
print(sysconfig.get_config_var("EXT_SUFFIX"))
print(os.path.dirname(os.path.realpath(sys.executable)))
print(sysconfig.get_paths()["platlib"])
print(sys.implementation.name)
print("free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "gil")
