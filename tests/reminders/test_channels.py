"""DingTalk, WeCom and Feishu payloads received by a local HTTP server; URL checks."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
from urllib.parse import unquote_plus

import pytest

from tracker.reminders.channels import DeliveryError, webhooks
from tracker.reminders.channels.email import SmtpSettings, build_message, one_line

SECRET = "SEC0123456789abcdef"
HOSTS = ["127.0.0.1"]


def test_dingtalk_markdown_signed_in_the_url(webhook_server):
    robot = webhooks.Robot("dingtalk", webhook_server.url("/robot/send?access_token=tok"), SECRET)
    webhooks.send(robot, "到期提醒", "### 到期提醒\n- 任务", extra_hosts=HOSTS)
    [req] = webhook_server.requests
    assert req["json"] == {"msgtype": "markdown",
                           "markdown": {"title": "到期提醒", "text": "### 到期提醒\n- 任务"}}
    assert req["query"]["access_token"] == ["tok"]
    timestamp = req["query"]["timestamp"][0]
    assert len(timestamp) == 13  # milliseconds
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    # parse_qs decoded the URL-encoding once: the server sees the base64 signature.
    assert req["query"]["sign"] == [expected]


def test_dingtalk_sign_is_url_encoded():
    sign = webhooks.dingtalk_sign(SECRET, 1_700_000_000_000)
    raw = base64.b64encode(hmac.new(SECRET.encode(), f"1700000000000\n{SECRET}".encode(),
                                    hashlib.sha256).digest()).decode()
    assert unquote_plus(sign) == raw
    assert "+" not in sign and "/" not in sign and "=" not in sign


def test_wecom_markdown_with_key_in_url(webhook_server):
    robot = webhooks.Robot("wecom", webhook_server.url("/cgi-bin/webhook/send?key=abc-123"))
    webhooks.send(robot, "t", "**逾期**任务", extra_hosts=HOSTS)
    [req] = webhook_server.requests
    assert req["path"] == "/cgi-bin/webhook/send"
    assert req["query"] == {"key": ["abc-123"]}
    assert req["json"] == {"msgtype": "markdown", "markdown": {"content": "**逾期**任务"}}


def test_feishu_signed_in_the_body(webhook_server):
    webhook_server.answer = {"code": 0, "msg": "success"}
    robot = webhooks.Robot("feishu", webhook_server.url("/open-apis/bot/v2/hook/xyz"), SECRET)
    webhooks.send(robot, "周报", "完成率 **80%**", extra_hosts=HOSTS)
    [req] = webhook_server.requests
    body = req["json"]
    assert len(body["timestamp"]) == 10  # seconds
    key = f"{body['timestamp']}\n{SECRET}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["title"]["content"] == "周报"
    assert body["card"]["elements"] == [{"tag": "markdown", "content": "完成率 **80%**"}]


def test_http_500_is_a_temporary_error_naming_only_the_host(webhook_server):
    webhook_server.status = 500
    robot = webhooks.Robot("wecom", webhook_server.url("/send?key=SECRETKEY"))
    with pytest.raises(DeliveryError) as info:
        webhooks.send(robot, "t", "x", extra_hosts=HOSTS)
    assert not info.value.permanent
    assert "500" in info.value.message and "SECRETKEY" not in info.value.message


def test_vendor_error_code_wrong_secret_is_permanent(webhook_server):
    webhook_server.answer = {"errcode": 310000, "errmsg": "sign not match"}
    robot = webhooks.Robot("dingtalk", webhook_server.url("/robot/send?access_token=t"), "bad")
    with pytest.raises(DeliveryError) as info:
        webhooks.send(robot, "t", "x", extra_hosts=HOSTS)
    assert info.value.permanent and "310000" in info.value.message


def test_redirects_are_not_followed(webhook_server):
    webhook_server.redirect_to = "http://127.0.0.1:1/elsewhere"
    robot = webhooks.Robot("wecom", webhook_server.url("/send?key=k"))
    with pytest.raises(DeliveryError) as info:
        webhooks.send(robot, "t", "x", extra_hosts=HOSTS)
    assert "redirect" in info.value.message
    assert len(webhook_server.requests) == 1


def test_unreachable_host_is_temporary():
    robot = webhooks.Robot("wecom", "http://127.0.0.1:9/send?key=k")
    with pytest.raises(DeliveryError) as info:
        webhooks.send(robot, "t", "x", extra_hosts=HOSTS, timeout=2)
    assert not info.value.permanent


@pytest.mark.parametrize("kind,url,reason", [
    ("dingtalk", "https://evil.example.com/robot/send?access_token=t", "not allowed"),
    ("dingtalk", "https://oapi.dingtalk.com.evil.cn/robot/send?access_token=t", "not allowed"),
    ("wecom", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "https"),
    ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "key"),
    ("dingtalk", "https://oapi.dingtalk.com/robot/send", "access_token"),
    ("feishu", "ftp://open.feishu.cn/x", "https://"),
    ("feishu", "not a url", "https://"),
    ("feishu", "https://open.feishu.cn:99999/x", "malformed"),
    ("feishu", "https://user:pw@open.feishu.cn/x", "user name"),
    ("wecom", "https://oapi.dingtalk.com/robot/send?key=k", "not allowed"),
])
def test_bad_urls_are_refused_with_a_reason(kind, url, reason):
    with pytest.raises(DeliveryError) as info:
        webhooks.check_url(kind, url)
    assert info.value.permanent and reason in info.value.message


def test_vendor_hosts_are_accepted():
    assert webhooks.check_url("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t")
    assert webhooks.check_url("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    assert webhooks.check_url("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/x")
    assert webhooks.check_url("feishu", "https://open.larksuite.com/open-apis/bot/v2/hook/x")


def test_mask_url_hides_tokens():
    assert webhooks.mask_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET") == \
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?…"


def test_no_header_injection_through_names_or_subjects():
    settings = SmtpSettings(server="127.0.0.1", port=25, sender="tracker@school.test")
    message = build_message(settings, to_name="张伟\r\nBcc: victim@evil.test",
                            to_addr="zhang@school.test",
                            subject="提醒\r\nBcc: victim@evil.test", text="t", html="<p>t</p>")
    raw = message.as_bytes()
    assert b"\nBcc:" not in raw and b"\r\nBcc:" not in raw
    assert one_line("a\r\nb\x00c") == "a b c"
    with pytest.raises(DeliveryError):
        build_message(settings, to_name="x", to_addr="a@b.test\r\nBcc: c@d.test", subject="s",
                      text="t", html="h")


@pytest.mark.parametrize("url", [
    "https://oapi.dingtalk.com/robot/send?access_token=TOK EN",
    "https://oapi.dingtalk.com/robot/send?access_token=TOK\tEN",
    "https://oapi.dingtalk.com/robot/send?access_token=TOK\x00EN",
    "https://oapi.dingtalk.com/robot/send?access_token=TOK\x7fEN",
    "https://oapi.dingtalk.com/robot/send?access_token=TOK\u3000EN",
    "https://oapi.dingtalk.com/robot/send?access_token=令牌",
])
def test_spaces_control_and_non_ascii_characters_are_refused(url):
    with pytest.raises(DeliveryError) as info:
        webhooks.check_url("dingtalk", url)
    assert info.value.permanent and "control characters" in info.value.message
    assert "TOK" not in info.value.message and "令牌" not in info.value.message
    # Blanks around the URL are not part of it.
    assert webhooks.check_url("dingtalk", " https://oapi.dingtalk.com/robot/send?access_token=t\n")


def test_errors_quoting_the_url_become_delivery_errors_naming_the_host(monkeypatch):
    """http.client refuses a URL with a space with an error quoting it whole: what an older
    stored URL, or a check let through, would produce. Nothing of it may come out."""
    monkeypatch.setattr(webhooks, "check_url", lambda kind, url, extra_hosts=(): "127.0.0.1")
    robot = webhooks.Robot("dingtalk", "http://127.0.0.1:9/robot/send?access_token=TOK EN",
                           SECRET)
    with pytest.raises(DeliveryError) as info:
        webhooks.send(robot, "t", "x", timeout=2)
    error = info.value
    assert error.permanent and error.message.startswith("the request to 127.0.0.1 was refused")
    assert "InvalidURL" in error.message and "TOK" not in error.message
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize("raised,permanent", [
    (ValueError("bad https://x/?access_token=TOKEN"), True),
    (http.client.IncompleteRead(b"access_token=TOKEN"), False),
    (RuntimeError("access_token=TOKEN"), False),
])
def test_any_error_while_sending_names_only_the_host(monkeypatch, raised, permanent):
    def fail(request, timeout):
        raise raised
    monkeypatch.setattr(webhooks._opener, "open", fail)
    robot = webhooks.Robot("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=TOKEN")
    with pytest.raises(DeliveryError) as info:
        webhooks.send(robot, "t", "x")
    assert "TOKEN" not in info.value.message and "qyapi.weixin.qq.com" in info.value.message
    assert info.value.permanent is permanent


def test_an_error_while_building_the_request_names_only_the_host(monkeypatch):
    def fail(*args, **kwargs):
        raise TypeError("https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN")
    monkeypatch.setattr(webhooks, "build_request", fail)
    robot = webhooks.Robot("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN")
    with pytest.raises(DeliveryError) as info:
        webhooks.send(robot, "t", "x")
    assert info.value.message == "cannot build the request to open.feishu.cn: TypeError"
