"""A Flask test client that behaves like a browser with JavaScript off: it reads the CSRF
token from the page it came from and posts forms with it."""

from __future__ import annotations

import re

from tests.helpers import PASSWORD

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
                   r'|"X-CSRFToken": "([^"]+)"')


class WebClient:
    def __init__(self, app):
        self.app = app
        self.client = app.test_client()

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def token(self, page_url: str = "/") -> str:
        html = self.client.get(page_url).get_data(as_text=True)
        match = TOKEN.search(html)
        assert match, f"no CSRF token on {page_url}"
        return next(g for g in match.groups() if g)

    def post(self, url, data=None, *, page: str | None = None, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token(page or "/"))
        return self.client.post(url, data=data, **kwargs)

    def login(self, username: str, password: str = PASSWORD):
        response = self.post("/login", {"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    def logout(self):
        return self.post("/logout", page="/")


def errors(response) -> list[str]:
    return re.findall(r'class="error" role="alert">([^<]+)<', response.get_data(as_text=True))
