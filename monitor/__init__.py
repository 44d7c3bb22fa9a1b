"""ilo-monitor: the Big Science Tender Monitor of the Dutch ILO-network.

`monitor` holds the notice contract, parsers, storage, the organisation registry, the Scrapy
plumbing shared by the spiders (settings, base spiders, pipelines, middlewares, extensions)
and the `ilo-monitor` command line.
"""

__version__ = "0.1.0"
