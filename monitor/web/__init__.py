"""The web pages: ILO review of the weekly digest, company self-service, one-click unsubscribe.

A small server-rendered Flask app (`create_app` in `monitor.web.app`), templates in the top-level
`templates/web/`, started by `ilo-monitor web`. ILO pages sit behind a login; company pages are
reached through a signed link (no passwords); the unsubscribe endpoint follows RFC 8058.
"""
