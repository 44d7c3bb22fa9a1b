"""Scrapy spiders: one module per source, each a small class on a base from `monitor.crawl`."""
