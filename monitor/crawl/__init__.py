"""The Scrapy plumbing shared by every spider: settings, base spiders, pipelines, extensions, replay.

Spiders (in the top-level `spiders` package) collect; the pipelines here validate and store;
the extensions observe. `replay` serves recorded exchanges to a real crawl for tests and the demo.
"""
