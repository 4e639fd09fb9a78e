"""The web explorer in a real browser (Debian's Chromium driven by Playwright)
on a running testnet: every page renders, search finds a block, and a
payment becomes final on its transaction page without a reload.

Chromium is installed with apt-get when it is missing and the test runs as
root; otherwise the test is skipped with the reason. Screenshots go to
build/test-artifacts/explorer (or $TIMECOIN_ARTIFACTS_DIR).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functional_framework import Testnet, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APT_TIMEOUT_S = 900
PAGE_TIMEOUT_MS = 30_000
ARTIFACTS = Path(
    os.environ.get(
        "TIMECOIN_ARTIFACTS_DIR",
        Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "explorer",
    )
)


def _ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{CHROMIUM} is missing and apt-get cannot install it (not root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(
            command, env=env, capture_output=True, timeout=APT_TIMEOUT_S, check=False
        )
        if result.returncode != 0:
            pytest.skip(f"{' '.join(command)} failed: {result.stderr.decode()[-300:]}")


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _ensure_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 412, "height": 915},  # a phone's screen
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_pages_render_and_a_payment_turns_final_live(
    testnet: Testnet, browser_context: Any
) -> None:
    from playwright.sync_api import expect

    testnet.wait_for_height(2)
    explorer = testnet.description["nodes"][0]["explorer_url"].rstrip("/")
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(explorer + "/")
    expect(page.locator("#tip-height")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#masternodes")).to_contain_text("4")
    expect(page.locator("#live")).to_contain_text("live")
    _shot(page, "home")

    page.fill("#search", "1")
    page.click("header button")
    expect(page.locator("h1")).to_have_text("Block 1")
    expect(page.locator("main h2")).to_have_text(re.compile(r"^Transactions 1 to \d+ of \d+$"))
    _shot(page, "block")

    page.goto(explorer + "/masternodes")
    expect(page.locator("tbody tr")).to_have_count(4)
    expect(page.locator("tbody .badge.enabled")).to_have_count(4)
    _shot(page, "masternodes")

    sender, receiver = testnet.nodes[0], testnet.nodes[1]
    address = receiver.rpc("getnewaddress")
    txid = sender.rpc("sendtoaddress", address, "4.5")
    page.goto(f"{explorer}/tx/{txid}")
    expect(page.locator("#txid")).to_have_text(txid)
    page.evaluate("window.loadedOnce = true")
    expect(page.locator("#finality-status")).to_have_text(re.compile(r"^(final|confirmed)$"))
    expect(page.locator("#finality-status")).to_have_text("confirmed")
    assert page.evaluate("window.loadedOnce") is True, "the page was reloaded"
    expect(page.locator("main")).to_contain_text(address)
    _shot(page, "transaction")

    page.goto(explorer + "/")
    expect(page.locator("#finality-latency")).to_have_text(re.compile(r"^\d+ ms / \d+ ms$"))
    expect(page.locator("#finalized-per-second")).to_have_text(re.compile(r"^\d+\.\d\d$"))

    page.goto(f"{explorer}/address/{address}")
    expect(page.locator("#balance")).to_have_text("4.50000000 TIME")
    expect(page.locator("main")).to_contain_text(txid)
    _shot(page, "address")
    assert errors == [], errors


def test_crafted_input_is_shown_as_text(testnet: Testnet, browser_context: Any) -> None:
    explorer = testnet.description["nodes"][1]["explorer_url"].rstrip("/")
    page = browser_context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    response = page.goto(explorer + "/address/%3Cimg%20src=x%20onerror=alert(1)%3E")
    assert response is not None and response.status == 400
    assert page.locator("img").count() == 0
    response = page.goto(explorer + "/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert response is not None and response.status == 400
    assert page.locator("script").count() == 0
    assert dialogs == []


CRAFTED = b"<img src=x onerror=alert(1)>"


def _register_crafted_masternode(testnet: Testnet) -> str:
    """A Free-tier registration whose network address is markup; its id."""
    import msgspec

    from timecoin.crypto import SigningKey, address_from_public_key, encode_address
    from timecoin.encoding import encode
    from timecoin.ledger import compute_input_signing_message, compute_owner_signing_message
    from timecoin.params import COIN, PRESETS
    from timecoin.types import (
        NO_COLLATERAL,
        TX_VERSION,
        MasternodeRegistration,
        OutPoint,
        Transaction,
        TxInput,
        TxOutput,
        compute_txid,
    )

    node = testnet.nodes[0]
    params = PRESETS[node.rpc("getblockchaininfo")["chain"]]
    owner = SigningKey.from_seed(bytes([77]) * 32)
    operator = SigningKey.from_seed(bytes([78]) * 32)
    address = address_from_public_key(owner.public_key)
    funded = node.rpc("sendtoaddress", encode_address(params.address_hrp, address), "5", 20)
    assert funded["status"] in ("final", "confirmed"), funded
    decoded = node.rpc("getrawtransaction", funded["txid"], True)
    vout = next(o["n"] for o in decoded["vout"] if o["scriptPubKey"]["hex"] == address.hex())
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(OutPoint(bytes.fromhex(funded["txid"]), vout), owner.public_key)],
        outputs=[TxOutput(5 * COIN - COIN // 100, address)],
        lock_time=0,
        payload=MasternodeRegistration(
            tier=0,
            collateral_index=NO_COLLATERAL,
            owner_key=owner.public_key,
            operator_key=operator.public_key,
            reward_address=address,
            network_address=CRAFTED,
        ),
        signatures=[],
        owner_signature=None,
    )
    txid = compute_txid(unsigned)
    signed = msgspec.structs.replace(
        unsigned,
        signatures=[owner.sign(compute_input_signing_message(params.chain_id, txid, 0))],
        owner_signature=owner.sign(compute_owner_signing_message(params.chain_id, txid)),
    )
    node.rpc("sendrawtransaction", encode(signed).hex())
    return txid.hex()


def test_a_crafted_network_address_is_shown_as_text(testnet: Testnet, browser_context: Any) -> None:
    from playwright.sync_api import expect

    testnet.wait_for_height(1)
    masternode_id = _register_crafted_masternode(testnet)
    explorer = testnet.description["nodes"][0]["explorer_url"].rstrip("/")
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})  # the address column shows
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(explorer + "/masternodes")
    expect(page.locator("tbody tr")).to_have_count(5)
    cell = page.get_by_text(CRAFTED.decode(), exact=True)
    expect(cell).to_be_visible()
    assert page.locator("main img").count() == 0
    expect(page.locator("main")).to_contain_text(masternode_id[:16])
    _shot(page, "masternodes-crafted")
    assert dialogs == []


def test_a_large_block_pages_its_transactions(testnet: Testnet, browser_context: Any) -> None:
    import json
    import sys
    import urllib.request

    from playwright.sync_api import expect

    testnet.wait_for_height(1)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "timecoin.cli",
            "loadgen",
            "--testnet",
            str(testnet.datadir),
            "--tps",
            "150",
            "--duration",
            "2",
            "--drain-timeout",
            "30",
            "--json",
            "--quiet",
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    rest = testnet.description["nodes"][0]["rest_url"]
    with urllib.request.urlopen(rest + "/blocks", timeout=10) as response:
        blocks = json.loads(response.read())
    large = [b for b in blocks if b["tx_count"] > 26]
    assert large, [b["tx_count"] for b in blocks]
    block = large[0]
    explorer = testnet.description["nodes"][0]["explorer_url"].rstrip("/")
    page = browser_context.new_page()
    page.goto(f"{explorer}/block/{block['id']}")
    heading = page.locator("main h2")
    expect(heading).to_have_text(f"Transactions 1 to 25 of {block['tx_count']}")
    expect(page.locator("tbody tr")).to_have_count(25)
    page.click("#pager >> text=next »")
    expect(heading).to_have_text(re.compile(rf"^Transactions 26 to \d+ of {block['tx_count']}$"))
    _shot(page, "block-page-2")


def test_a_closed_page_ends_its_event_stream_quietly(
    testnet: Testnet, browser_context: Any
) -> None:
    from playwright.sync_api import expect

    node = testnet.nodes[3]
    explorer = testnet.description["nodes"][3]["explorer_url"].rstrip("/")
    page = browser_context.new_page()
    page.goto(explorer + "/")
    expect(page.locator("#live")).to_contain_text("live: height")
    page.close()
    testnet.wait_until_height(node, node.height() + 3)
    log_text = (node.datadir / "node.log").read_text(encoding="utf-8", errors="replace")
    assert "REST GET /events failed" not in log_text


def test_a_node_stops_promptly_after_pages_came_and_went(
    testnet: Testnet, browser_context: Any
) -> None:
    """Last in this module: it stops node 2 with one page open and one closed."""
    from playwright.sync_api import expect

    node = testnet.nodes[2]
    explorer = testnet.description["nodes"][2]["explorer_url"].rstrip("/")
    pages = [browser_context.new_page() for _ in range(2)]
    for page in pages:
        page.goto(explorer + "/")
        expect(page.locator("#live")).to_contain_text("live: height")
    pages[0].close()
    page = pages[1]
    assert node.rpc("stop") == "TimeCoin server stopping"
    log = node.datadir / "node.log"

    def stopped() -> str | None:
        text = log.read_text(encoding="utf-8", errors="replace")
        return text if "node stopped" in text or "shutdown took longer" in text else None

    text = wait_until(stopped, 20.0, "node 2 to stop")
    assert "shutdown took longer" not in text
    page.close()
