"""``add-asset`` for a client ITFlow does not have: refused on the JSON API, said plainly on the legacy API."""

from test_cli import run


def test_json_api_refuses_an_asset_for_a_missing_client_and_writes_nothing(sites, tmp_path):
    site = sites["v1"]
    before = site.rows("assets")
    out = run(site, tmp_path, "add-asset", "9999", "Orphan-PC", mode="v1")
    assert (out.returncode, out.stdout, out.stderr) == (1, "", "itflow-bridge: no client 9999\n")
    assert site.rows("assets") == before


def test_legacy_api_says_it_cannot_check_the_client(sites, tmp_path):
    out = run(sites["legacy"], tmp_path, "add-asset", "2", "NAS-2", mode="legacy")
    assert out.returncode == 0 and out.stdout == ""
    assert out.stderr == ("itflow-bridge: asset added; the legacy API gives no id and cannot tell whether "
                          "client 2 exists: check the asset in ITFlow\n")
    assert len(out.stderr.splitlines()) == 1
