"""Repair records in the form the 汽车维修电子健康档案 platforms send them (JT/T 1132.2)."""

import copy
import json

import pytest

from carhistory.sources.models import PrivateRecord, Submission
from carhistory.sources.repair_records import record_payload
from ledger.models import Entry
from ledger.services import integrate_pending
from tests.sources.factories import MembershipFactory, OrganisationFactory, api_key_for, make_vin

URL = "/api/v1/imports/repair-records"
RECORD = {
    "basicInfo": {
        "companyname": "北京朝阳汽车修理有限公司",
        "vin": make_vin(7),
        "vehicleplatenumber": "京A12345",
        "repairdate": "20240503",
        "repairmileage": "45210",
        "faultdescription": "张先生反映前保险杠破损，电话13800000000",
        "settledate": "20240504",
        "costlistcode": "JS2024050300017",
    },
    "vehiclepartslist": [{"partsname": "前保险杠", "partscode": "5G0807221", "partsquantity": 1}],
    "repairprojectlist": [{"repairproject": "更换前保险杠", "workinghours": 2.5}],
}
SERVICE = {
    "basicInfo": {"vin": make_vin(8), "repairdate": 20240601, "repairmileage": 52000.0},
    "vehiclepartslist": [{"partsname": "机油"}, {"partsname": "机油滤清器"}],
    "repairprojectlist": [{"repairproject": "常规保养"}],
}


@pytest.fixture
def shop_client(db):
    from rest_framework.test import APIClient

    shop = OrganisationFactory(kind="repair_shop", slug="bj-chaoyang-auto-repair")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(shop)}")
    return client


def logged(index):
    return json.loads(bytes(Entry.objects.get(index=index).data))


def test_a_repair_record_becomes_a_repair_event_with_private_details_committed(shop_client):
    response = shop_client.post(URL, RECORD, format="json")
    assert response.status_code == 202, response.json()
    [result] = response.json()["results"]
    integrate_pending(wait=True)
    submission = Submission.objects.get(public_id=result["id"])
    entry = logged(Entry.objects.get(pending_id=submission.pending_id).index)

    assert entry["type"] == "repair"
    assert entry["occurred_at"] == "2024-05-03"
    assert entry["odometer_km"] == 45210
    assert entry["facts"] == {"parts": ["前保险杠"], "area": "更换前保险杠"}
    public = json.dumps(entry, ensure_ascii=False)
    for secret in ("京A12345", "JS2024050300017", "13800000000", "5G0807221", "朝阳"):
        assert secret not in public
    private = PrivateRecord.objects.get(submission=submission).details
    assert private["vehicleplatenumber"] == "京A12345"
    assert private["costlistcode"] == "JS2024050300017"
    assert private["faultdescription"].startswith("张先生")
    assert private["vehiclepartslist"][0]["partscode"] == "5G0807221"


def test_routine_maintenance_becomes_a_service_event(shop_client):
    response = shop_client.post(URL, [SERVICE], format="json")
    assert response.json()["results"][0]["status"] in {"pending", "integrated"}
    integrate_pending(wait=True)
    entry = json.loads(bytes(Entry.objects.get(type="service").data))
    assert entry["facts"] == {"items": ["常规保养", "机油", "机油滤清器"]}
    assert entry["odometer_km"] == 52000
    assert entry["occurred_at"] == "2024-06-01"


@pytest.mark.parametrize(
    "envelope",
    [
        lambda records: {"transaction": {"header": {"appid": "x"}, "body": {"reqInfo": records}}},
        lambda records: {"header": {}, "body": {"reqInfo": records}},
        lambda records: {"reqInfo": json.dumps(records, ensure_ascii=False)},
        lambda records: {"transaction": {"body": records[0]}},
    ],
)
def test_the_platforms_envelope_is_accepted(shop_client, envelope):
    response = shop_client.post(URL, envelope([RECORD]), format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["results"][0]["status"] in {"pending", "integrated"}


def test_sending_the_same_settlement_again_logs_nothing_new(shop_client):
    first = shop_client.post(URL, RECORD, format="json").json()["results"][0]
    again = shop_client.post(URL, RECORD, format="json").json()["results"][0]
    assert again["id"] == first["id"]
    assert Submission.objects.filter(status="accepted").count() == 1


def test_each_record_gets_its_own_result_named_by_platform_field(shop_client):
    bad_date = copy.deepcopy(RECORD)
    bad_date["basicInfo"]["repairdate"] = "2024-05-03"
    bad_mileage = copy.deepcopy(SERVICE)
    bad_mileage["basicInfo"]["repairmileage"] = "36,100"
    bad_vin = copy.deepcopy(SERVICE)
    bad_vin["basicInfo"]["vin"] = "LSVAU2180N2183295"
    no_projects = {"basicInfo": {"vin": make_vin(9), "repairdate": "20240503"}}
    unknown = copy.deepcopy(SERVICE)
    unknown["basicInfo"]["colour"] = "red"

    response = shop_client.post(
        URL, [RECORD, bad_date, bad_mileage, bad_vin, no_projects, unknown, "x"], format="json"
    )
    assert response.status_code == 202
    results = response.json()["results"]
    assert results[0]["status"] in {"pending", "integrated"}
    assert "basicInfo.repairdate" in results[1]["errors"]
    assert "basicInfo.repairmileage" in results[2]["errors"]
    assert "basicInfo.vin" in results[3]["errors"]
    assert "repairprojectlist" in results[4]["errors"]
    assert "basicInfo.colour" in results[5]["errors"]
    assert "basicInfo" in results[6]["errors"]


@pytest.mark.parametrize(
    "body", [{}, [], "text", 7, {"reqInfo": "{not json"}, {"transaction": None}]
)
def test_a_body_with_no_records_is_a_field_error(shop_client, body):
    response = shop_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert not Submission.objects.exists()


def test_an_insurer_may_not_import_repair_records(db):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_for(OrganisationFactory(kind='insurer'))}"
    )
    response = client.post(URL, RECORD, format="json")
    assert response.json()["results"][0]["status"] == "rejected"
    assert "type" in response.json()["results"][0]["errors"]


def test_the_external_id_never_shows_the_settlement_number():
    payload = record_payload(RECORD, organisation_slug="s").payload
    assert "JS2024050300017" not in payload["external_id"]
    assert (
        payload["external_id"]
        == record_payload(RECORD, organisation_slug="s").payload["external_id"]
    )


def test_the_portal_csv_layout_takes_the_same_records(db):
    from carhistory.portal import csv_import

    member = MembershipFactory(organisation=OrganisationFactory(kind="repair_shop"))
    content = (
        "companyname,vin,vehicleplatenumber,repairdate,repairmileage,faultdescription,"
        "settledate,costlistcode,repairproject,workinghours,partsname,partscode,partsquantity\r\n"
        f"朝阳汽修,{make_vin(30)},京A12345,20240503,45210,前杠破损,20240504,JS1,"
        "更换前保险杠|喷漆,2.5|1,前保险杠,5G0807221,1\r\n"
        f"朝阳汽修,{make_vin(31)},京B54321,20240510,61000,,,JS2,常规保养,0.5,机油|机滤,,4|1\r\n"
        f"朝阳汽修,{make_vin(32)},,2024-05-11,61000,,,JS3,常规保养,,,,\r\n"
    ).encode()
    upload = csv_import.create_csv_upload(
        organisation=member.organisation,
        uploaded_by=member.user,
        filename="records.csv",
        content=content,
    )
    upload = csv_import.process_csv_upload(upload_id=upload.pk)
    assert (upload.accepted, upload.rejected) == (2, 1)
    assert "4,repairdate," in upload.error_report
    integrate_pending(wait=True)
    repair = json.loads(bytes(Entry.objects.get(type="repair").data))
    assert repair["facts"] == {"parts": ["前保险杠"], "area": "更换前保险杠、喷漆"}
    service = json.loads(bytes(Entry.objects.get(type="service").data))
    assert service["facts"]["items"] == ["常规保养", "机油", "机滤"]
    details = PrivateRecord.objects.get(submission__vin=make_vin(30)).details
    assert details["repairprojectlist"] == [
        {"repairproject": "更换前保险杠", "workinghours": "2.5"},
        {"repairproject": "喷漆", "workinghours": "1"},
    ]
