"""darkfigure: Bayesian multiple-systems estimation of hidden populations.

From several incomplete, overlapping lists (court records, NGO case files, service registers)
estimate how many people exist beyond every list, and how far official counts fall short.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("darkfigure")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
