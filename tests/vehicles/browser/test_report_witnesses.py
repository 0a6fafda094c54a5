"""The report page names the witnesses that cosigned the checkpoint it verified against, and how
long ago, checked in the browser; it warns when no witness has cosigned recently. Witnesses are
real `carhistory-witness serve` processes the log pushes to."""

import html
import json
import re
import shlex
import time

import pytest
from carhistory_verifier import note
from carhistory_verifier.verify import main as verify_main
from playwright.sync_api import Page, expect

from ledger import witnessing
from ledger.models import Cosigner
from tests.vehicles.browser.histories import (
    ROLLBACK_VIN,
    approved_sources,
    record_rollback_history,
)
from tests.witness.processes import WitnessProcess, free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVIDENCE = "**/api/v1/vehicles/*/evidence*"


@pytest.fixture
def witnesses(tmp_path, log_key):
    processes = [
        WitnessProcess(
            tmp_path / "registry", "registry.example/w", log_key.verifier(), free_port()
        ),
        WitnessProcess(
            tmp_path / "insurers", "insurers.example/w", log_key.verifier(), free_port()
        ),
    ]
    titles = ["Shanghai Vehicle Registry", "Insurers' Association"]
    for process, title in zip(processes, titles, strict=True):
        process.start()
        witnessing.add_witness(
            verifier_key=process.verifier.key_string(), url=process.url, title=title
        )
    yield processes
    for process in processes:
        process.stop()


def witness_status(page: Page, live_server):
    page.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")
    expect(page.locator("[data-verify-summary]")).to_have_attribute("data-verify-state", "verified")
    status = page.locator("[data-witness-status]")
    expect(status).to_be_visible()
    return status


def test_the_report_names_the_witnesses_that_cosigned_and_when(page, live_server, witnesses):
    record_rollback_history(approved_sources())
    status = witness_status(page, live_server)
    expect(status).to_have_attribute("data-witness-state", "fresh")
    expect(status).to_have_attribute("data-witness-count", "2")
    expect(status).to_contain_text("Shanghai Vehicle Registry and Insurers' Association")
    expect(status).to_contain_text("ago")


def test_in_chinese_the_time_comes_first_and_the_witnesses_by_chinese_title(
    chinese_page, live_server, witnesses
):
    record_rollback_history(approved_sources())
    Cosigner.objects.filter(name="registry.example/w").update(title_zh_hans="上海市机动车登记所")
    status = witness_status(chinese_page, live_server)
    expect(chinese_page.locator("[data-verify-summary]")).to_contain_text(
        "已验证 7/7 条记录：全部真实可信，并由其来源签名"
    )
    expect(status).to_have_attribute("data-witness-state", "fresh")
    # Intl's "N秒钟前", then the witnesses joined by Intl's "和" (one without a Chinese
    # title keeps its English one).
    expect(status).to_have_text(
        re.compile(r"^\d+秒钟前由上海市机动车登记所和Insurers' Association见证签名。$")
    )


def test_a_forged_cosignature_is_not_counted(page, live_server, witnesses):
    record_rollback_history(approved_sources())
    impostor = note.CosignatureSigner.generate("registry.example/w")

    def forge(route):
        response = route.fetch()
        bundle = response.json()
        # Keep only a line by an impostor holding the registry witness's name.
        body = bundle["checkpoint"].split("\n\n")[0] + "\n\n"
        log_line = bundle["checkpoint"].split("\n\n")[1].split("\n")[0] + "\n"
        bundle["checkpoint"] = body + log_line
        bundle["checkpoint"] += note.cosign_checkpoint(
            bundle["checkpoint"], impostor, timestamp=int(time.time())
        )
        route.fulfill(response=response, body=json.dumps(bundle))

    page.route(EVIDENCE, forge)
    status = witness_status(page, live_server)
    expect(status).to_have_attribute("data-witness-state", "none")
    expect(status).to_contain_text("No independent witness has cosigned")


def test_the_page_warns_when_the_newest_cosignature_is_too_old(page, live_server, witnesses):
    record_rollback_history(approved_sources())
    # The buyer's clock two hours ahead: the cosignatures are now older than the 10 minutes
    # the site promises, as they would be if the log had frozen this view.
    page.clock.install(time=time.time() + 2 * 3600)
    status = witness_status(page, live_server)
    expect(status).to_have_attribute("data-witness-state", "stale")
    expect(status).to_contain_text("2 hours ago")
    expect(status).to_contain_text("every 10 minutes")


def test_without_witnesses_the_page_says_only_the_log_vouches(page, live_server, log_key):
    record_rollback_history(approved_sources())
    status = witness_status(page, live_server)
    expect(status).to_have_attribute("data-witness-state", "none")


def test_the_offline_steps_give_a_witness_command_that_verifies(
    client, tmp_path, capsys, witnesses, monkeypatch
):
    record_rollback_history(approved_sources())
    page = client.get(f"/vehicles/{ROLLBACK_VIN}/").content.decode()
    step = html.unescape(re.search(r"<li data-offline-witnesses>(.*?)</li>", page, re.S).group(1))
    assert "Witnesses: Shanghai Vehicle Registry, Insurers' Association" in step
    command = shlex.split(re.search(r"<code>(.*?)</code>", step, re.S).group(1))
    assert command[0] == "carhistory-verify"
    assert command.count("--witness") == 2 and command[-2:] == ["--quorum", "2"]

    # Run exactly what the page prints, on the bundle its download link gives.
    bundle = client.get(f"/vehicles/{ROLLBACK_VIN}/evidence.json")
    (tmp_path / command[1]).write_bytes(bundle.content)
    monkeypatch.chdir(tmp_path)
    assert verify_main(command[1:]) == 0
    out = capsys.readouterr().out
    assert "Witnesses: 2 of 2 cosigned (quorum 2)" in out


def test_the_offline_witnesses_are_listed_as_chinese_writes_a_list(client, witnesses):
    record_rollback_history(approved_sources())
    page = client.get(f"/vehicles/{ROLLBACK_VIN}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    step = html.unescape(
        re.search(r"<li data-offline-witnesses>(.*?)</li>", page.content.decode(), re.S).group(1)
    )
    # The list rule of every Chinese page (formats.joined), not an English comma.
    assert "见证方：Shanghai Vehicle Registry、Insurers' Association" in step
