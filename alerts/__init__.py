"""Digests, rendering and sending of alert emails (never imports Scrapy)."""
