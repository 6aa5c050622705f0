"""A seeded collection of synthetic studies with planted identifying data and an answer key.

Modelled on what the MIDI-B challenge scored (CBIIT/MIDI_validation_script): every planted value
comes with the check a de-identified copy must pass. Patients have CT, MR, CR, DX, ultrasound (text
burned into the top banner), secondary capture (likewise) and a comprehensive SR. Identifying data
sits where real archives have it: the patient module, physicians, descriptors written by people
(a doctor's name, the patient's name or a date in free text, an address with a two-letter state code
next to words that contain it), nested sequences, and vendor private blocks (identifying ones, and
acquisition parameters the TCIA private tag knowledge base marks "keep"). Nothing is read from disk.

A check names an element by a path: ``00081030`` at the top level, ``0040A730[0]/0040A160`` inside
sequence items, and ``0019,GEMS_ACQU_01,23`` for a private element by creator and offset.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

CT, MR, CR, DX, US, SC, SR = ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.1",
                              "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.6.1",
                              "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.88.33")
#: (modality, SOP class, instances) of each patient's studies
SERIES = (("CT", CT, 3), ("MR", MR, 3), ("CR", CR, 1), ("DX", DX, 1), ("US", US, 1), ("OT", SC, 1), ("SR", SR, 1))

# The generator's own name pool: some are in the shipped census lists, some are not (recall is
# measured on both kinds).
FAMILY = ("FEINSTEIN", "OKONKWO", "HALVORSEN", "MARTINEZ", "NAKAMURA", "BRENNAN", "KOWALCZYK", "ABERNATHY",
          "JOHNSON", "GARCIA", "THOMPSON", "WILLIAMS")
GIVEN = ("JANE", "OLUWASEUN", "INGRID", "CARLOS", "HIROSHI", "MAEVE", "TOMASZ", "EUGENIA", "ROBERT", "MARIA",
         "DAVID", "LINDA")
CITIES = (("PORTLAND", "OR", "97201"), ("SALEM", "OR", "97301"), ("BOISE", "ID", "83702"), ("DENVER", "CO", "80202"))
STREETS = ("ELM STREET", "QUAYSIDE ROAD", "LEAWOOD AVENUE", "BIRCH LANE")

DESCRIPTIONS = {"CT": ("CT CHEST W CONTRAST", "BRAIN TUMOR FOLLOW UP", "CT ABDOMEN PELVIS"),
                "MR": ("MR BRAIN TUMOR PROTOCOL", "MRI KNEE LEFT", "MR SPINE LUMBAR"),
                "CR": ("CHEST PA AND LATERAL",), "DX": ("HAND LEFT 3 VIEWS",), "US": ("US ABDOMEN COMPLETE",),
                "OT": ("SCREEN CAPTURE DOSE REPORT",), "SR": ("RADIOLOGY REPORT",)}

# Private acquisition parameters the TCIA KB marks "keep", with its VR: (group, creator, offset, VR, value).
KB_KEEP = {"CT": ((0x0019, "GEMS_ACQU_01", 0x03, "DS", "451.5"), (0x0019, "GEMS_ACQU_01", 0x04, "DS", "1.0"),
                  (0x0019, "GEMS_ACQU_01", 0x11, "SS", 1), (0x0019, "GEMS_ACQU_01", 0x19, "DS", "-120.5"),
                  (0x0019, "GEMS_ACQU_01", 0x1E, "DS", "360.0"), (0x0019, "GEMS_ACQU_01", 0x23, "DS", "39.375"),
                  (0x0019, "GEMS_ACQU_01", 0x24, "DS", "2.5"), (0x0043, "GEMS_PARM_01", 0x01, "SS", 3)),
           "MR": ((0x0019, "SIEMENS MR HEADER", 0x0A, "US", 1), (0x0019, "SIEMENS MR HEADER", 0x0B, "DS", "87.5"),
                  (0x0019, "SIEMENS MR HEADER", 0x0C, "IS", "1000"), (0x0019, "SIEMENS MR HEADER", 0x0D, "CS", "DIRECTIONAL"),
                  (0x0019, "SIEMENS MR HEADER", 0x11, "SH", "No"), (0x0019, "SIEMENS MR HEADER", 0x17, "DS", "1.0"),
                  (0x0019, "SIEMENS MR HEADER", 0x18, "IS", "3900"), (0x0019, "SIEMENS MR HEADER", 0x28, "FD", 23.8))}
# Private elements that identify: a KB "delete" one and one of a vendor the KB does not know.
KB_DELETE = (0x0009, "GEMS_IDEN_01", 0x02, "SH")
UNKNOWN_PRIVATE = (0x0041, "ACME RESEARCH 01", 0x10, "LO")

BANNER = 48  # rows of the burned-in banner of US and SC images
INK, PAPER = 255, 20


@dataclass(frozen=True)
class Check:
    action: str  # one of `ACTIONS`
    path: str
    value: str  # the original value; for pixels: MD5 or the banner's box as JSON
    text: str = ""  # text_removed / text_retained: the words concerned


ACTIONS = ("text_removed", "date_shifted", "uid_changed", "pixels_hidden",
           "tag_retained", "text_retained", "text_notnull", "uid_consistent", "patid_consistent", "pixels_retained")
REMOVAL = ACTIONS[:4]


@dataclass
class Instance:
    dataset: Dataset
    checks: list[Check] = field(default_factory=list)
    #: words of person names planted in free text (for the name detector's precision and recall)
    planted_names: list[tuple[str, str]] = field(default_factory=list)  # (path, word)

    @property
    def uid(self) -> str:
        return str(self.dataset.SOPInstanceUID)


class _Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.counter = 0

    def uid(self) -> str:
        self.counter += 1
        return f"1.2.826.0.1.3680043.10.1077.{self.rng.randrange(10**6)}.{self.counter}"

    def date(self, start: int = 2015, end: int = 2023) -> str:
        day = dt.date(start, 1, 1) + dt.timedelta(days=self.rng.randrange((end - start) * 365))
        return day.strftime("%Y%m%d")


def collection(seed: int = 0, patients: int = 4) -> list[Instance]:
    """``patients`` patients, each with one study of every kind in `SERIES` (11 instances)."""
    make = _Maker(seed)
    out: list[Instance] = []
    for p in range(patients):
        out += _patient(make, p)
    return out


def _patient(make: _Maker, index: int) -> list[Instance]:
    rng = make.rng
    family, given = FAMILY[index % len(FAMILY)], GIVEN[index % len(GIVEN)]
    doctor = FAMILY[(index + 5) % len(FAMILY)]
    doctor_given = GIVEN[(index + 7) % len(GIVEN)]
    city, state, zipcode = CITIES[index % len(CITIES)]
    person = {"name": f"{family}^{given}", "id": f"MRN{rng.randrange(10**6, 10**7)}",
              "birth": make.date(1940, 1990), "sex": "FM"[index % 2], "age": f"{40 + index:03d}Y",
              "weight": f"{60 + index * 3}", "size": f"1.{60 + index * 2}",
              "address": f"{rng.randrange(10, 999)} {STREETS[index % len(STREETS)]}, {city} {state} {zipcode}",
              "phone": f"({rng.randrange(200, 999)}) 555-{rng.randrange(1000, 9999)}",
              "doctor": f"{doctor}^{doctor_given}", "doctor_family": doctor, "city": city, "state": state}
    instances = []
    for modality, sop_class, count in SERIES:
        study_uid, series_uid, frame_uid, study_date = make.uid(), make.uid(), make.uid(), make.date()
        accession = f"ACC{rng.randrange(10**7, 10**8)}"
        previous = None
        for number in range(1, count + 1):
            ds = _base(make, person, modality, sop_class, study_uid, series_uid, study_date, accession, number)
            inst = Instance(ds)
            _common_checks(inst, person, accession)
            if modality == "SR":
                _report(make, inst, person)
            else:
                _image(make, inst, person, modality, frame_uid, previous)
            previous = inst
            instances.append(inst)
    return instances


def _base(make: _Maker, person: dict, modality: str, sop_class: str, study_uid: str, series_uid: str,
          study_date: str, accession: str, number: int) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, make.uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date
    ds.StudyTime, ds.SeriesTime, ds.ContentTime = "101500", "102000", f"1021{number:02d}"
    ds.AccessionNumber = accession
    ds.Modality = modality
    ds.Manufacturer = {"CT": "GE MEDICAL SYSTEMS", "MR": "SIEMENS"}.get(modality, "ACME IMAGING")
    ds.ManufacturerModelName = {"CT": "LightSpeed VCT", "MR": "Skyra"}.get(modality, "Model 7")
    ds.SoftwareVersions = "VE11C"
    ds.StationName = f"ST{make.rng.randrange(100, 999)}"
    ds.DeviceSerialNumber = f"SN{make.rng.randrange(10**5, 10**6)}"
    ds.InstitutionName = f"{person['city']} GENERAL HOSPITAL"
    ds.InstitutionAddress = f"1 HOSPITAL WAY, {person['city']} {person['state']}"
    ds.ReferringPhysicianName = person["doctor"]
    ds.OperatorsName = f"{FAMILY[(FAMILY.index(person['doctor_family']) + 3) % len(FAMILY)]}^TECH"
    ds.StudyID = f"S{make.rng.randrange(1000, 9999)}"
    ds.SeriesNumber, ds.InstanceNumber = "1", str(number)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = person["name"], person["id"], person["birth"]
    ds.PatientSex, ds.PatientAge = person["sex"], person["age"]
    ds.PatientWeight, ds.PatientSize = person["weight"], person["size"]
    ds.PatientAddress, ds.PatientTelephoneNumbers = person["address"], person["phone"]
    ds.OtherPatientIDs = f"X{person['id'][3:]}"
    description = make.rng.choice(DESCRIPTIONS[modality])
    ds.StudyDescription = f"{description} - DR {person['doctor_family']}"
    return ds


def _common_checks(inst: Instance, person: dict, accession: str) -> None:
    ds, add = inst.dataset, inst.checks.append
    for keyword, tag in (("SOPInstanceUID", "00080018"), ("StudyInstanceUID", "0020000D"),
                         ("SeriesInstanceUID", "0020000E")):
        add(Check("uid_changed", tag, ds[keyword].value))
        add(Check("uid_consistent", tag, ds[keyword].value))
    for tag in ("00080020", "00080021", "00080023"):
        add(Check("date_shifted", tag, ds.StudyDate))
    add(Check("text_notnull", "00080020", ds.StudyDate))
    add(Check("date_shifted", "00100030", person["birth"]))
    add(Check("patid_consistent", "00100020", person["id"]))
    add(Check("text_removed", "00100020", person["id"], person["id"]))
    add(Check("text_removed", "00100010", person["name"], person["name"].replace("^", " ")))
    add(Check("text_removed", "00080050", accession, accession))
    add(Check("text_removed", "00101040", person["address"], person["address"]))
    add(Check("text_removed", "00102154", person["phone"], person["phone"]))
    add(Check("text_removed", "00101000", ds.OtherPatientIDs, ds.OtherPatientIDs))
    add(Check("text_removed", "00080090", person["doctor"], person["doctor"].replace("^", " ")))
    add(Check("text_removed", "00081070", str(ds.OperatorsName), str(ds.OperatorsName).split("^")[0]))
    add(Check("text_removed", "00080081", ds.InstitutionAddress, ds.InstitutionAddress))
    for tag, keyword in (("00100040", "PatientSex"), ("00101010", "PatientAge"), ("00101030", "PatientWeight"),
                         ("00101020", "PatientSize"), ("00080070", "Manufacturer"),
                         ("00081090", "ManufacturerModelName"), ("00181020", "SoftwareVersions"),
                         ("00080060", "Modality")):
        add(Check("text_retained", tag, str(ds[keyword].value), str(ds[keyword].value)))
    for tag in ("00181000", "00081010", "00080030", "00200011", "00200013"):
        add(Check("tag_retained", tag, ""))
    description = ds.StudyDescription.split(" - ")[0]
    add(Check("text_retained", "00081030", ds.StudyDescription, description))
    add(Check("text_removed", "00081030", ds.StudyDescription, person["doctor_family"]))
    inst.planted_names.append(("00081030", person["doctor_family"]))


def _image(make: _Maker, inst: Instance, person: dict, modality: str, frame_uid: str, previous: Instance | None) -> None:
    ds, add, rng = inst.dataset, inst.checks.append, make.rng
    name = person["name"].split("^")
    # free text written by people: a name, a date in words, the address's city and state code
    seen = dt.datetime.strptime(ds.StudyDate, "%Y%m%d").strftime("%m/%d/%Y")
    series_text = {"CT": "AXIAL 5MM", "MR": "AX T1 POST", "CR": "PA", "DX": "PA OBLIQUE", "US": "LIVER",
                   "OT": "DOSE"}[modality]
    ds.SeriesDescription = f"{series_text} {name[1].title()} {name[0].title()}"
    add(Check("text_retained", "0008103E", ds.SeriesDescription, series_text))
    add(Check("text_removed", "0008103E", ds.SeriesDescription, f"{name[1]} {name[0]}"))
    inst.planted_names += [("0008103E", name[1]), ("0008103E", name[0])]
    ds.ProtocolName = f"{modality} ROUTINE FOR TUMOR"
    add(Check("text_retained", "00181030", ds.ProtocolName, ds.ProtocolName))
    ds.ImageComments = (f"Lesion stable in left lobe for tumor follow up. Seen {seen} in {person['city'].title()} "
                        f"{person['state']}, Dr. {person['doctor_family'].title()} notified.")
    add(Check("text_retained", "00204000", ds.ImageComments, "lesion stable in left lobe for tumor follow up"))
    add(Check("text_removed", "00204000", ds.ImageComments, f"{person['doctor_family']} {person['city']}"))
    add(Check("date_shifted", "00204000", seen))
    inst.planted_names.append(("00204000", person["doctor_family"]))
    # nested: the request, with a physician in its description, and references between instances
    request = Dataset()
    request.RequestedProcedureDescription = f"{modality} FOR MASS PER DR {person['doctor_family']}"
    request.RequestedProcedureID = f"RP{rng.randrange(10**5, 10**6)}"
    request.ScheduledProcedureStepID = f"SPS{rng.randrange(10**5, 10**6)}"
    ds.RequestAttributesSequence = Sequence([request])
    add(Check("text_retained", "00400275[0]/00321060", request.RequestedProcedureDescription, f"{modality} FOR MASS"))
    add(Check("text_removed", "00400275[0]/00321060", request.RequestedProcedureDescription, person["doctor_family"]))
    inst.planted_names.append(("00400275[0]/00321060", person["doctor_family"]))
    add(Check("text_removed", "00400275[0]/00401001", request.RequestedProcedureID, request.RequestedProcedureID))
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "24727-0", "LN", f"{modality} procedure"
    ds.ProcedureCodeSequence = Sequence([code])
    add(Check("text_retained", "00081032[0]/00080104", code.CodeMeaning, code.CodeMeaning))
    if previous is not None:
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = previous.dataset.SOPClassUID, previous.uid
        ds.ReferencedImageSequence = Sequence([ref])
        add(Check("uid_changed", "00081140[0]/00081155", previous.uid))
        add(Check("uid_consistent", "00081140[0]/00081155", previous.uid))
    if modality in ("CT", "MR"):
        ds.FrameOfReferenceUID = frame_uid
        add(Check("uid_changed", "00200052", frame_uid))
        add(Check("uid_consistent", "00200052", frame_uid))
        ds.SliceThickness, ds.PixelSpacing = "5.0", ["0.7", "0.7"]
        ds.ImagePositionPatient, ds.ImageOrientationPatient = ["0", "0", str(ds.InstanceNumber)], ["1", "0", "0", "0", "1", "0"]
        ds.PatientPosition = "HFS"
        tags = ["00180050", "00280030", "00200032", "00200037"]
        if modality == "CT":
            ds.KVP, ds.ConvolutionKernel, ds.RescaleIntercept, ds.RescaleSlope = "120", "STANDARD", "-1024", "1"
            tags += ["00180060", "00181210", "00281052"]
        else:
            ds.RepetitionTime, ds.EchoTime, ds.MagneticFieldStrength = "500", "15", "3"
            ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions, ds.MRAcquisitionType = "SE", "NONE", "", "2D"
            tags += ["00180080", "00180081", "00180087"]
        for tag in tags:
            add(Check("tag_retained", tag, ""))
        _private(inst, person, KB_KEEP[modality])
    _pixels(make, inst, modality)


def _private(inst: Instance, person: dict, keep) -> None:
    ds = inst.dataset
    for group, creator, offset, vr, value in keep:
        ds.private_block(group, creator, create=True).add_new(offset, vr, value)
        path = f"{group:04X},{creator},{offset:02X}"
        inst.checks.append(Check("tag_retained", path, ""))
        inst.checks.append(Check("text_retained", path, str(value), str(value)))
    group, creator, offset, vr = KB_DELETE
    ds.private_block(group, creator, create=True).add_new(offset, vr, person["name"].split("^")[0])
    inst.checks.append(Check("text_removed", f"{group:04X},{creator},{offset:02X}", "", person["name"].split("^")[0]))
    group, creator, offset, vr = UNKNOWN_PRIVATE
    ds.private_block(group, creator, create=True).add_new(offset, vr, f"{person['name']} {person['id']}")
    inst.checks.append(Check("text_removed", f"{group:04X},{creator},{offset:02X}", "",
                             f"{person['name'].replace('^', ' ')} {person['id']}"))


def _pixels(make: _Maker, inst: Instance, modality: str) -> None:
    ds = inst.dataset
    rows, cols = (64, 64) if modality in ("CT", "MR", "CR", "DX") else (120, 160)
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, cols, 1, "MONOCHROME2"
    rng = np.random.default_rng(make.rng.randrange(2**32))
    if modality in ("US", "OT"):
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        image = rng.integers(0, 120, (rows, cols), dtype=np.uint8)
        image[:BANNER] = PAPER
        for x in range(4, cols - 8, 10):  # "letters": ink strokes of the banner's text
            image[10:30, x:x + 3] = INK
            image[10:13, x:x + 7] = INK
        ds.BurnedInAnnotation = "YES"
        box = {"top_left": [0, 0], "bottom_right": [cols, BANNER], "text": "patient name, ID and date"}
        inst.checks.append(Check("pixels_hidden", "7FE00010", json.dumps(box)))
        if modality == "OT":
            ds.ConversionType = "WSD"
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        image = rng.integers(0, 4096, (rows, cols), dtype=np.uint16)
        ds.BurnedInAnnotation = "NO"
    ds.PixelData = image.tobytes()
    if modality not in ("US", "OT"):
        inst.checks.append(Check("pixels_retained", "7FE00010", hashlib.md5(ds.PixelData).hexdigest()))


def _report(make: _Maker, inst: Instance, person: dict) -> None:
    """A comprehensive SR: a container of text, person name, date, measurement and code items."""
    ds, add = inst.dataset, inst.checks.append
    ds.Modality = "SR"
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = [_code("18748-4", "LN", "Diagnostic Imaging Report")]
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName = person["doctor"]
    observer.VerificationDateTime = ds.StudyDate + "120000"
    observer.VerifyingOrganization = f"{person['city']} GENERAL HOSPITAL"
    observer.VerifyingObserverIdentificationCodeSequence = Sequence()
    ds.VerifyingObserverSequence = Sequence([observer])
    add(Check("text_removed", "0040A073[0]/0040A075", person["doctor"], person["doctor"].replace("^", " ")))
    seen = dt.datetime.strptime(ds.StudyDate, "%Y%m%d").strftime("%d %b %Y")
    finding = f"Mass in left lung measuring 23 mm, compared with {seen}. Discussed with Dr {person['doctor_family'].title()}."
    items = [_item("TEXT", _code("121071", "DCM", "Finding"), TextValue=finding),
             _item("PNAME", _code("121008", "DCM", "Person Observer Name"), PersonName=person["doctor"]),
             _item("DATE", _code("111060", "DCM", "Study Date"), Date=ds.StudyDate),
             _item("NUM", _code("410668003", "SCT", "Length"), MeasuredValueSequence=[_measure("23")]),
             _item("CODE", _code("121071", "DCM", "Finding"), ConceptCodeSequence=[_code("4147007", "SCT", "Mass")])]
    ds.ContentSequence = Sequence(items)
    add(Check("text_retained", "0040A730[0]/0040A160", finding, "mass in left lung measuring 23 mm"))
    add(Check("text_removed", "0040A730[0]/0040A160", finding, person["doctor_family"]))
    add(Check("date_shifted", "0040A730[0]/0040A160", seen))  # a written date: gone as a whole
    inst.planted_names.append(("0040A730[0]/0040A160", person["doctor_family"]))
    add(Check("text_removed", "0040A730[1]/0040A123", person["doctor"], person["doctor"].replace("^", " ")))
    add(Check("tag_retained", "0040A730[1]/0040A123", ""))
    add(Check("date_shifted", "0040A730[2]/0040A121", ds.StudyDate))
    add(Check("text_notnull", "0040A730[2]/0040A121", ds.StudyDate))
    add(Check("text_retained", "0040A730[3]/0040A300[0]/0040A30A", "23", "23"))
    add(Check("text_retained", "0040A730[4]/0040A168[0]/00080104", "Mass", "Mass"))
    add(Check("text_retained", "0040A730[0]/0040A043[0]/00080104", "Finding", "Finding"))


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = value, scheme, meaning
    return code


def _item(value_type: str, name: Dataset, **content) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", value_type
    item.ConceptNameCodeSequence = [name]
    for keyword, value in content.items():
        setattr(item, keyword, value)
    return item


def _measure(number: str) -> Dataset:
    measure = Dataset()
    measure.MeasurementUnitsCodeSequence = [_code("mm", "UCUM", "millimeter")]
    measure.NumericValue = number
    return measure


def write(instances: list[Instance], folder) -> None:
    """Each instance as a Part 10 file under ``folder`` (explicit VR little endian)."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for n, inst in enumerate(instances):
        ds = inst.dataset
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.save_as(folder / f"{n:04d}.dcm", enforce_file_format=True)
