"""Pixels written back after a pixel rule, in the input's transfer syntax wherever that is honest.

What each input transfer syntax becomes (docs/pixels.md, "The encoding written back", has the same table):

- native little endian (implicit, explicit, deflated): unchanged;
- explicit VR big endian (retired): explicit VR little endian, OW/OL/OF/OD/OV values byte-swapped;
- RLE Lossless, JPEG-LS Lossless, JPEG 2000 Lossless, JPEG Lossless (process 14, and its selection
  value 1), HTJ2K Lossless (and with RPCL): the same syntax, re-encoded losslessly (pylibjpeg-rle, pyjpegls and
  pylibjpeg-openjpeg through pydicom; libjpeg-turbo and OpenJPH through imagecodecs);
- JPEG-LS Near-Lossless, JPEG 2000 and HTJ2K (lossy allowed): the same syntax, re-encoded without further
  loss (NEAR=0; the reversible wavelet), both of which the syntax allows; the image stays marked lossy;
- JPEG Baseline and JPEG Extended: re-encoded once (quality 95), and the lossy step recorded in Lossy
  Image Compression Ratio and Method after those of the input (PS3.3 C.7.6.1.1.5);
- everything else (JPEG 2000 Part 2 multi-component, MPEG, a missing or failing encoder): explicit VR
  little endian, uncompressed.

Colour is written as the encoding stores it (PS3.5 8.2): YBR_RCT where JPEG 2000 applies its reversible
colour transform, YBR_FULL_422 for lossy JPEG, RGB otherwise; Planar Configuration 0. A lossless
re-encoding is decoded again and compared with the pixels meant; if they differ the uncompressed form is
written instead.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.multival import MultiValue
from pydicom.pixels import get_encoder, pack_bits
from pydicom.uid import (
    HTJ2K, JPEG2000, JPEG2000MC, UID, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, HTJ2KLossless,
    HTJ2KLosslessRPCL, ImplicitVRLittleEndian, JPEG2000Lossless, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless,
    JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless, RLELossless,
)

from ..errors import EngineError

#: Transfer syntaxes whose pixels may have been compressed with loss.
LOSSY = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless, JPEG2000, JPEG2000MC, HTJ2K})
#: the Lossy Image Compression Method of each lossy syntax (PS3.3 C.7.6.1.1.5.1)
METHODS = {JPEGBaseline8Bit: "ISO_10918_1", JPEGExtended12Bit: "ISO_10918_1", JPEGLSNearLossless: "ISO_14495_1",
           JPEG2000: "ISO_15444_1", JPEG2000MC: "ISO_15444_2", HTJ2K: "ISO_15444_15"}
_NATIVE = frozenset({ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian})
_RAW_VRS = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}
_QUALITY = 95
_LOSSY_PHOTOMETRIC = frozenset({"MONOCHROME1", "MONOCHROME2", "RGB"})  # what a lossy JPEG may hold (PS3.5 8.2.1)

#: (the Image Pixel module as it will be written, the pixels) -> one codestream per frame
Frames = Callable[[Dataset, np.ndarray], list[bytes]]


@dataclass(frozen=True)
class Codec:
    """How pixels are encoded again in one transfer syntax."""

    frames: Frames
    colour: str = "RGB"  # the Photometric Interpretation of colour pixels once encoded (PS3.5 8.2)
    lossy: bool = False  # a step with loss, recorded in the history; a lossless one must decode to the same pixels


def _by_pydicom(syntax: UID, **options) -> Frames:
    """pydicom's own encoder for ``syntax`` (its plugins: pyjpegls, pylibjpeg-openjpeg)."""
    def frames(module: Dataset, arr: np.ndarray) -> list[bytes]:
        return list(get_encoder(syntax).iter_encode(module, **options))
    return frames


def _each_frame(module: Dataset, arr: np.ndarray) -> list[np.ndarray]:
    shape = (int(module.Rows), int(module.Columns)) + ((3,) if int(module.SamplesPerPixel) == 3 else ())
    return list(arr.reshape((-1,) + shape))


def _rle(module: Dataset, arr: np.ndarray) -> list[bytes]:
    """pylibjpeg-rle, which takes every Bits Allocated the syntax allows (pydicom's own stops at 16)."""
    from rle.utils import encode_pixel_data

    return [encode_pixel_data(np.ascontiguousarray(frame).tobytes(), rows=int(module.Rows),
                              columns=int(module.Columns), samples_per_pixel=int(module.SamplesPerPixel),
                              bits_allocated=int(module.BitsAllocated), byteorder="<")
            for frame in _each_frame(module, arr)]


def _unsigned(module: Dataset, frame: np.ndarray) -> np.ndarray:
    """The stored bits of each sample as an unsigned number, as JPEG codes them (PS3.5 8.2.1)."""
    bits = int(module.BitsStored)
    return frame.view(frame.dtype.str.replace("i", "u")) & np.array(2 ** bits - 1, frame.dtype.str.replace("i", "u"))


def _jpeg_lossless(module: Dataset, arr: np.ndarray) -> list[bytes]:
    """libjpeg-turbo (3.0 or later) through imagecodecs: process 14, first-order prediction (selection
    value 1), which both JPEG Lossless syntaxes allow."""
    import imagecodecs

    colour = int(module.SamplesPerPixel) == 3
    return [imagecodecs.jpeg8_encode(_unsigned(module, frame), lossless=True, predictor=1,
                                     bitspersample=int(module.BitsStored),
                                     **({"colorspace": "RGB", "outcolorspace": "RGB"} if colour else {}))
            for frame in _each_frame(module, arr)]


def _jpeg_extended(module: Dataset, arr: np.ndarray) -> list[bytes]:
    """libjpeg-turbo through imagecodecs: 8- or 12-bit lossy JPEG, once; colour with 4:2:2 chroma, as
    YBR_FULL_422 says (its own default is 4:2:0)."""
    import imagecodecs

    colour = {"subsampling": "422"} if int(module.SamplesPerPixel) == 3 else {}
    return [imagecodecs.jpeg8_encode(frame, level=_QUALITY, bitspersample=12 if int(module.BitsStored) > 8 else 8,
                                     **colour)
            for frame in _each_frame(module, arr)]


def _jpeg_baseline(module: Dataset, arr: np.ndarray) -> list[bytes]:
    """Pillow: baseline JPEG, colour as YCbCr with 4:2:2 chroma."""
    from PIL import Image

    if arr.dtype != np.uint8:
        raise ValueError("baseline JPEG holds 8-bit unsigned samples only")
    fragments = []
    for frame in _each_frame(module, arr):
        buffer = io.BytesIO()
        Image.fromarray(frame, "RGB" if frame.ndim == 3 else "L").save(buffer, "JPEG", quality=_QUALITY,
                                                                       subsampling="4:2:2")
        fragments.append(buffer.getvalue())
    return fragments


def _htj2k(module: Dataset, arr: np.ndarray) -> list[bytes]:
    """OpenJPH through imagecodecs: a reversible High-Throughput JPEG 2000 codestream."""
    import imagecodecs

    colour = int(module.SamplesPerPixel) == 3
    # OpenJPH writes the RPCL progression order, and a TLM marker: what HTJ2K Lossless RPCL requires
    return [imagecodecs.htj2k_encode(frame, reversible=True, rgb=colour, tlm=True)
            for frame in _each_frame(module, arr)]


#: input transfer syntax -> how its pixels are encoded again (any other: written uncompressed)
CODECS: dict[UID, Codec] = {
    RLELossless: Codec(_rle),
    JPEGLSLossless: Codec(_by_pydicom(JPEGLSLossless)),
    JPEGLSNearLossless: Codec(_by_pydicom(JPEGLSNearLossless, jls_error=0)),
    JPEG2000Lossless: Codec(_by_pydicom(JPEG2000Lossless), "YBR_RCT"),
    JPEG2000: Codec(_by_pydicom(JPEG2000Lossless), "YBR_RCT"),  # a reversible codestream is valid JPEG 2000
    JPEGLossless: Codec(_jpeg_lossless),
    JPEGLosslessSV1: Codec(_jpeg_lossless),
    HTJ2KLossless: Codec(_htj2k, "YBR_RCT"),
    HTJ2KLosslessRPCL: Codec(_htj2k, "YBR_RCT"),
    HTJ2K: Codec(_htj2k, "YBR_RCT"),
    # the lossy JPEG processes: YBR_FULL_422, the one colour value the US and VL IODs allow there
    JPEGBaseline8Bit: Codec(_jpeg_baseline, "YBR_FULL_422", lossy=True),
    JPEGExtended12Bit: Codec(_jpeg_extended, "YBR_FULL_422", lossy=True),
}


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
    codec = CODECS.get(source)
    if codec is None or bits_allocated == 1 or (codec.lossy and photometric not in _LOSSY_PHOTOMETRIC):
        # palette indices are never compressed with loss: a changed index is another colour
        what = "" if codec is None else " with Bits Allocated 1" if bits_allocated == 1 else f" of {photometric}"
        notes.append(f"pixels written uncompressed: no encoder for {source.name}{what}")
        return ExplicitVRLittleEndian
    module = _pixel_module(out)
    if photometric == "RGB":
        module.PhotometricInterpretation = codec.colour
    try:
        frames = codec.frames(module, arr)
        module.PixelData = encapsulate(frames)
        module["PixelData"].VR = "OB"
        module["PixelData"].is_undefined_length = True
        module.file_meta.TransferSyntaxUID = source
        decoded = module.pixel_array
        if decoded.shape != arr.shape or not (codec.lossy or np.array_equal(decoded, arr)):
            notes.append(f"pixels written uncompressed: the {source.name} re-encoding did not decode to the same "
                         "pixels")
            return ExplicitVRLittleEndian
    except Exception as err:  # no encoder installed, or it cannot take this image
        notes.append(f"pixels written uncompressed: no {source.name} encoder for this image ({type(err).__name__})")
        return ExplicitVRLittleEndian
    for elem in module:
        out[elem.tag] = elem
    if codec.lossy:
        _record_lossy_step(out, METHODS[source], arr.size * arr.itemsize, input_size, sum(len(f) for f in frames))
    out.file_meta.TransferSyntaxUID = source
    return source


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


def _pixel_module(out: Dataset) -> Dataset:
    """A dataset holding only ``out``'s Image Pixel module, to try an encoding on."""
    module = Dataset()
    for elem in out:
        if elem.tag.group == 0x0028 or elem.tag == 0x7FE00010:
            module.add(DataElement(elem.tag, elem.VR, elem.value))
    module.file_meta = FileMetaDataset()
    module.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return module


def _record_lossy_step(out: Dataset, method: str, uncompressed: int, input_size: int, encoded: int) -> None:
    """Append the step just taken to the lossy compression history (PS3.3 C.7.6.1.1.5): after the
    input's own steps, or, where the input recorded none (or ratios and methods that do not pair up), after
    the input's step as its size shows."""
    ratios = _values(out.get("LossyImageCompressionRatio"))
    if not ratios or len(ratios) != len(_values(out.get("LossyImageCompressionMethod"))):
        for keyword in ("LossyImageCompressionRatio", "LossyImageCompressionMethod"):
            out.pop(keyword, None)
        _add_lossy_step(out, uncompressed / max(input_size, 1), method)
    _add_lossy_step(out, uncompressed / max(encoded, 1), method)


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
