"""Pixels written back after a pixel rule, in the input's transfer syntax wherever that is honest.

What each input transfer syntax becomes (docs/pixels.md has the same table):

- native little endian (implicit, explicit, deflated): unchanged;
- explicit VR big endian (retired): explicit VR little endian, OW/OL/OF/OD/OV values byte-swapped;
- RLE Lossless, JPEG-LS Lossless, JPEG 2000 Lossless: the same syntax, re-encoded losslessly
  (pydicom's encoders: its own RLE, pyjpegls, pylibjpeg-openjpeg);
- JPEG-LS Near-Lossless and JPEG 2000: the same syntax, re-encoded without further loss (NEAR=0; the
  reversible wavelet), both of which the syntax allows; the image stays marked lossy;
- JPEG Baseline: re-encoded once as baseline JPEG (Pillow, quality 95, colour as YBR_FULL_422), and the second lossy step
  recorded in Lossy Image Compression Ratio and Method (PS3.3 C.7.6.1.1.5);
- everything else (JPEG Lossless, JPEG Extended, HTJ2K, a missing or failing encoder): explicit VR
  little endian, uncompressed.

A lossless re-encoding is decoded again and compared with the pixels meant; if they differ the
uncompressed form is written instead.
"""

from __future__ import annotations

import io

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.multival import MultiValue
from pydicom.pixels import pack_bits
from pydicom.uid import (
    HTJ2K, JPEG2000, JPEG2000MC, UID, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian,
    ImplicitVRLittleEndian, JPEG2000Lossless, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSLossless,
    JPEGLSNearLossless, RLELossless,
)

from ..errors import EngineError

#: Transfer syntaxes whose pixels may have been compressed with loss.
LOSSY = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless, JPEG2000, JPEG2000MC, HTJ2K})
#: the Lossy Image Compression Method of each lossy syntax (PS3.3 C.7.6.1.1.5.1)
METHODS = {JPEGBaseline8Bit: "ISO_10918_1", JPEGExtended12Bit: "ISO_10918_1", JPEGLSNearLossless: "ISO_14495_1",
           JPEG2000: "ISO_15444_1", JPEG2000MC: "ISO_15444_2", HTJ2K: "ISO_15444_15"}
#: syntax -> (the lossless encoding to make, pydicom's encoder options)
_LOSSLESS = {
    RLELossless: (RLELossless, {}),
    JPEGLSLossless: (JPEGLSLossless, {}),
    JPEGLSNearLossless: (JPEGLSNearLossless, {"jls_error": 0}),
    JPEG2000Lossless: (JPEG2000Lossless, {}),
    JPEG2000: (JPEG2000Lossless, {}),  # a reversible codestream is valid JPEG 2000 as well
}
#: the Photometric Interpretation of colour pixels once encoded (PS3.5 Tables 8.2.1-1, 8.2.4-1): JPEG 2000
#: with its reversible colour transform, JPEG Baseline as YCbCr with 4:2:2 chroma, the one value the US and
#: VL IODs allow there; every other syntax stores the RGB samples as they are (planar configuration 0)
_COLOUR = {JPEG2000Lossless: "YBR_RCT", JPEGBaseline8Bit: "YBR_FULL_422"}
_NATIVE = frozenset({ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian})
_RAW_VRS = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}
_JPEG_QUALITY = 95


def store(out: Dataset, arr: np.ndarray, photometric: str, bits_stored: int, bits_allocated: int,
          transfer_syntax: str, input_size: int, notes: list[str]) -> str:
    """Put ``arr`` into ``out``'s Image Pixel module and return the transfer syntax to write it with.
    ``input_size``: the bytes of the input's (encapsulated) pixel data, for its compression ratio.

    ``out``'s elements of group 0028 and Pixel Data must be its own (not shared with the input).
    """
    source = UID(transfer_syntax)
    target = transfer_syntax if source in _NATIVE else ExplicitVRLittleEndian
    out.file_meta = FileMetaDataset()
    out.file_meta.TransferSyntaxUID = target
    _set_native(out, arr, photometric, bits_stored, bits_allocated)
    if not source.is_little_endian:
        _swap_words(out)
    if source in _NATIVE or not source.is_little_endian:
        return target
    if source in _LOSSLESS and bits_allocated > 1:
        encoding, options = _LOSSLESS[source]
        try:
            trial = _copy_pixel_module(out)
            if photometric == "RGB":  # the encoder applies the colour transform this value names
                trial.PhotometricInterpretation = _COLOUR.get(encoding, "RGB")
            trial.compress(encoding, arr, generate_instance_uid=False, **options)
            if np.array_equal(trial.pixel_array, arr):
                for elem in trial:
                    out[elem.tag] = elem
                out.file_meta.TransferSyntaxUID = source
                return source
            notes.append(f"pixels written uncompressed: the {source.name} re-encoding did not decode to the same "
                         "pixels")
        except Exception as err:  # no encoder installed, or it cannot take this image
            notes.append(f"pixels written uncompressed: no {source.name} encoder for this image "
                         f"({type(err).__name__})")
        return ExplicitVRLittleEndian
    if source == JPEGBaseline8Bit and arr.dtype == np.uint8 and photometric in ("MONOCHROME2", "RGB"):
        try:
            _jpeg_baseline(out, arr, photometric, input_size)
        except ImportError:
            notes.append("pixels written uncompressed: re-encoding JPEG Baseline needs Pillow")
            return ExplicitVRLittleEndian
        out.file_meta.TransferSyntaxUID = source
        return source
    notes.append(f"pixels written uncompressed: no encoder for {source.name}")
    return ExplicitVRLittleEndian


def _set_native(out: Dataset, arr: np.ndarray, photometric: str, bits_stored: int, bits_allocated: int) -> None:
    samples = arr.shape[-1] if photometric == "RGB" else 1
    if bits_allocated == 1:  # kept 1-bit: frames packed end to end, as PS3.5 8.1.1 says
        out.PixelData = pack_bits(arr.astype(np.uint8), pad=True)
        out["PixelData"].VR = "OB"
        out.BitsAllocated, out.BitsStored, out.HighBit = 1, 1, 0
        out.PhotometricInterpretation = photometric
    elif arr.dtype.itemsize <= 2:
        out.set_pixel_data(arr, photometric, bits_stored, generate_instance_uid=False)
    elif arr.dtype.kind in "iu" and arr.dtype.itemsize == 4:  # beyond set_pixel_data: 32-bit integers
        out.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        out["PixelData"].VR = "OW"
        out.PhotometricInterpretation = photometric
    else:
        raise EngineError(f"pixels of type {arr.dtype} cannot be re-encoded after a pixel rule")
    if samples > 1:
        out.PlanarConfiguration = 0


def _swap_words(ds: Dataset) -> None:
    """Byte-swap every word-valued binary element (palette LUTs, LUT data) of a dataset read big
    endian, since it is written little endian; pydicom keeps such values as raw bytes."""
    for elem in list(ds):
        if elem.VR == "SQ":
            for item in elem.value:
                _swap_words(item)
        elif elem.VR in _RAW_VRS and elem.tag != 0x7FE00010 and isinstance(elem.value, bytes):
            width = _RAW_VRS[elem.VR]
            words = np.frombuffer(elem.value[:len(elem.value) // width * width], f">u{width}")
            ds[elem.tag] = DataElement(elem.tag, elem.VR, words.astype(f"<u{width}").tobytes())


def little_endian_pixel_module(ds: Dataset) -> Dataset:
    """``ds``'s Image Pixel module (group 0028) as it reads once written little endian, for the
    palette LUTs of a big-endian input."""
    module = Dataset()
    for elem in ds.group_dataset(0x0028):
        module.add(DataElement(elem.tag, elem.VR, elem.value))
    _swap_words(module)
    module.file_meta = FileMetaDataset()  # segmented LUTs are read in the byte order it names
    module.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return module


def _copy_pixel_module(out: Dataset) -> Dataset:
    """A dataset holding only ``out``'s Image Pixel module, to try an encoding on."""
    trial = Dataset()
    for elem in out:
        if elem.tag.group == 0x0028 or elem.tag == 0x7FE00010:
            trial.add(DataElement(elem.tag, elem.VR, elem.value))
    trial.file_meta = FileMetaDataset()
    trial.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return trial


def _jpeg_baseline(out: Dataset, arr: np.ndarray, photometric: str, input_size: int) -> None:
    """Each frame re-encoded once as baseline JPEG; the step recorded in the lossy compression history."""
    from PIL import Image

    colour = photometric == "RGB"
    frames = arr.reshape((-1,) + arr.shape[-3:] if colour else (-1,) + arr.shape[-2:])
    fragments = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame, "RGB" if colour else "L").save(buffer, "JPEG", quality=_JPEG_QUALITY,
                                                              subsampling="4:2:2")
        fragments.append(buffer.getvalue())
    uncompressed = arr.size * arr.itemsize
    ratios = _values(out.get("LossyImageCompressionRatio"))
    if not ratios or len(ratios) != len(_values(out.get("LossyImageCompressionMethod"))):
        # no history, or one whose steps do not pair up: the input's own step, as its size shows
        for keyword in ("LossyImageCompressionRatio", "LossyImageCompressionMethod"):
            out.pop(keyword, None)
        _add_lossy_step(out, uncompressed / max(input_size, 1), METHODS[JPEGBaseline8Bit])
    out.PixelData = encapsulate(fragments)
    out["PixelData"].VR = "OB"
    out["PixelData"].is_undefined_length = True
    if colour:
        out.PhotometricInterpretation = _COLOUR[JPEGBaseline8Bit]
    _add_lossy_step(out, uncompressed / max(sum(len(f) for f in fragments), 1), METHODS[JPEGBaseline8Bit])


def _add_lossy_step(out: Dataset, ratio: float, method: str) -> None:
    ratios = [str(r) for r in _values(out.get("LossyImageCompressionRatio"))]
    methods = [str(m) for m in _values(out.get("LossyImageCompressionMethod"))]
    out.LossyImageCompression = "01"
    out.LossyImageCompressionRatio = ratios + [f"{ratio:.2f}"[:16]]
    out.LossyImageCompressionMethod = methods + [method]


def _values(value) -> list:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
