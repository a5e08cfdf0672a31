"""The HTTP server over real sockets: /cnam as PBX modules call it, phonebook revalidation, access."""

import email.utils
import http.client
import socket
import threading

import pytest

from polling import PATIENCE

from itflow_bridge.directory.http_server import PhonebookDocument, make_http_server, number_from_query

NAMES = {"+15551234567": "Acme Corp - John Smith", "+442079460000": "Müller & Söhne"}


class Recorder:
    """The lookup: records each number; ``hold`` (called first) keeps it busy until the test says."""

    def __init__(self, hold=None, fail=False):
        self.numbers = []
        self.hold = hold
        self.fail = fail

    def __call__(self, number):
        self.numbers.append(number)
        if self.fail:
            raise RuntimeError("boom")
        if self.hold is not None:
            self.hold()
        digits = number.lstrip("+")
        # national US numbers resolve like the bridge's lookup would
        return NAMES.get(number) or NAMES.get("+1" + digits) or NAMES.get("+" + digits) or ""


DOC = PhonebookDocument(body=b'<?xml version="1.0" encoding="UTF-8"?>\n<AddressBook/>\n', etag='"abc123"',
                        last_modified=1_700_000_000.0)


def phonebooks(fmt):
    if fmt == "nothing":
        return None
    if fmt not in ("yealink", "grandstream", "cisco", "snom", "fanvil"):
        raise KeyError(fmt)
    return DOC


@pytest.fixture
def serve():
    servers = []

    def start(lookup=None, provider=phonebooks, **kwargs):
        server = make_http_server("127.0.0.1", 0, lookup or Recorder(), provider, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def get(server, path, headers=None, method="GET"):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    connection.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


# FreePBX cidlookup, source type http: "http://HOST:PORT/PATH?QUERY" with [NUMBER] -> ${CALLERID(num)}
# unencoded (functions.inc.php); one leading "/" of PATH is dropped, a second one stays.
# Superfecta "Regular Expressions": the URL with $thenumber substituted as is.
@pytest.mark.parametrize("path, number", [
    ("/cnam?number=+15551234567", "+15551234567"),  # raw "+" (CALLERID(num) from a SIP trunk)
    ("/cnam?number=%2B15551234567", "+15551234567"),  # URIENCODE'd
    ("//cnam?number=+15551234567", "+15551234567"),  # path typed as "//cnam"
    ("/cnam?number=5551234567", "5551234567"),  # national
    ("/cnam?number=15551234567", "15551234567"),
    ("/cnam?number=01144207946000", "01144207946000"),  # international prefix
    ("/cnam/?number=+442079460000", "+442079460000"),
    ("/cnam?token=&number=+442079460000&x=1", "+442079460000"),
])
def test_cnam_url_shapes_pbx_modules_generate(serve, path, number):
    lookup = Recorder()
    server = serve(lookup)
    response, body = get(server, path)
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert lookup.numbers == [number]
    expected = NAMES.get(number) or NAMES.get("+1" + number.lstrip("+")) or NAMES.get("+" + number.lstrip("+"), "")
    if number.startswith("011"):
        expected = ""  # the recorder does not know international prefixes; the real lookup does
    assert body == expected.encode("utf-8")
    assert not body.endswith(b"\n")


def test_cnam_non_ascii_name_is_utf8(serve):
    response, body = get(serve(), "/cnam?number=%2B442079460000")
    assert body.decode("utf-8") == "Müller & Söhne"


def test_cnam_miss_is_an_empty_200(serve):
    response, body = get(serve(), "/cnam?number=5550009999")
    assert (response.status, body, response.getheader("Content-Length")) == (200, b"", "0")


def test_cnam_without_a_number_is_400(serve):
    response, body = get(serve(), "/cnam")
    assert response.status == 400 and body == b""


def test_cnam_answers_within_the_budget_even_when_the_lookup_hangs(serve):
    answer = threading.Event()
    server = serve(Recorder(hold=lambda: answer.wait(PATIENCE)), budget=0.3)
    try:
        response, body = get(server, "/cnam?number=5551234567")  # while the lookup still hangs
    finally:
        answer.set()
    assert (response.status, body) == (200, b"")


def test_cnam_lookup_crash_answers_empty(serve):
    response, body = get(serve(Recorder(fail=True)), "/cnam?number=5551234567")
    assert (response.status, body) == (200, b"")


def test_cnam_strips_line_breaks(serve):
    server = serve(lambda number: "Line\r\nBreak\n")
    assert get(server, "/cnam?number=5551234567")[1] == b"Line Break"


def test_phonebook_has_validators_and_revalidates(serve):
    server = serve()
    response, body = get(server, "/phonebook/yealink.xml")
    assert (response.status, body) == (200, DOC.body)
    assert response.getheader("Content-Type") == "text/xml; charset=utf-8"
    assert response.getheader("ETag") == '"abc123"'
    last_modified = response.getheader("Last-Modified")
    assert email.utils.parsedate_to_datetime(last_modified).timestamp() == 1_700_000_000
    for headers in ({"If-None-Match": '"abc123"'}, {"If-None-Match": 'W/"abc123"'},
                    {"If-None-Match": '"zzz", "abc123"'}, {"If-None-Match": "*"},
                    {"If-Modified-Since": last_modified},
                    {"If-Modified-Since": email.utils.formatdate(1_800_000_000, usegmt=True)}):
        response, body = get(server, "/phonebook/yealink.xml", headers)
        assert (response.status, body) == (304, b""), headers
        assert response.getheader("ETag") == '"abc123"'
    for headers in ({"If-None-Match": '"old"'}, {"If-Modified-Since": email.utils.formatdate(1_600_000_000, usegmt=True)},
                    {"If-None-Match": '"old"', "If-Modified-Since": last_modified},  # ETag wins
                    {"If-Modified-Since": "garbage"}):
        response, body = get(server, "/phonebook/yealink.xml", headers)
        assert (response.status, body) == (200, DOC.body), headers


def test_phonebook_head_and_unknown_format_and_no_directory(serve):
    server = serve()
    response, body = get(server, "/phonebook/cisco.xml", method="HEAD")
    assert response.status == 200 and body == b"" and response.getheader("Content-Length") == str(len(DOC.body))
    assert get(server, "/phonebook/polycom.xml")[0].status == 404
    assert get(server, "/phonebook/nothing.xml")[0].status == 503
    assert get(server, "/")[0].status == 404


def test_token_in_query_or_header(serve):
    server = serve(token="s3cret")
    assert get(server, "/cnam?number=5551234567")[0].status == 403
    assert get(server, "/cnam?number=5551234567&token=wrong")[0].status == 403
    assert get(server, "/cnam?number=5551234567&token=s3cret")[1] == b"Acme Corp - John Smith"
    assert get(server, "/phonebook/yealink.xml", {"X-Token": "s3cret"})[0].status == 200
    assert get(server, "/phonebook/yealink.xml", {"Authorization": "Bearer s3cret"})[0].status == 200
    assert get(server, "/phonebook/yealink.xml?token=s3cret")[0].status == 200


def test_peers_outside_the_allow_list_are_refused(serve):
    server = serve(allow=("192.0.2.0/24",))
    assert get(server, "/cnam?number=5551234567")[0].status == 403
    server = serve(allow=("10.0.0.0/8", "127.0.0.0/8"))
    assert get(server, "/cnam?number=5551234567")[0].status == 200


def test_ipv6_loopback(serve):
    try:
        server = make_http_server("::1", 0, Recorder(), phonebooks)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    server.start()
    try:
        connection = http.client.HTTPConnection("::1", server.server_address[1], timeout=5)
        connection.request("GET", "/cnam?number=5551234567")
        assert connection.getresponse().read() == b"Acme Corp - John Smith"
    finally:
        server.shutdown()
        server.server_close()


def test_concurrent_requests(serve):
    # Each lookup answers only once all ten are running at the same time: served one
    # after another, the first would wait for the others in vain and answer nothing.
    all_running = threading.Barrier(10, timeout=PATIENCE)
    server = serve(Recorder(hold=all_running.wait), budget=PATIENCE)
    results = []

    def ask():
        results.append(get(server, "/cnam?number=5551234567")[1])

    threads = [threading.Thread(target=ask) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [b"Acme Corp - John Smith"] * 10


@pytest.mark.parametrize("query, number", [
    ("number=+4930123", "+4930123"), ("number=%2B4930123", "+4930123"), ("number=%20%204930123", "4930123"),
    ("num=5551234", "5551234"), ("NUMBER=5551234", "5551234"), ("other=1", None), ("number=", ""),
])
def test_number_from_query(query, number):
    assert number_from_query(query) == number


def test_a_burst_of_connections_queues_while_the_server_is_busy():
    # Every agent page reconnecting at once (after a restart): the server accepts none yet, and
    # each connection must still be taken into the queue, not dropped for a retry seconds later.
    from itflow_bridge.screen.live import MAX_STREAMS

    server = make_http_server("127.0.0.1", 0, Recorder(), phonebooks)  # listening, not serving yet
    sockets: list = []
    try:
        for count in range(MAX_STREAMS):
            try:
                sockets.append(socket.create_connection(server.server_address[:2], timeout=PATIENCE))
            except socket.timeout:
                pytest.fail("connection %d of %d was dropped, not queued" % (count + 1, MAX_STREAMS))
        for each in sockets[:-1]:
            each.close()  # (the server then reads them at once: fewer descriptors open at the peak)
        server.start()
        try:
            sockets[-1].sendall(b"GET /cnam?number=5551234567 HTTP/1.0\r\n\r\n")
            assert sockets[-1].makefile("rb").read().endswith(b"Acme Corp - John Smith")
        finally:
            server.shutdown()  # (waits for a server that was started: never before start())
    finally:
        for each in sockets:
            each.close()
        server.server_close()
