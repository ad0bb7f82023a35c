"""What a stream's code values mean: matrix, range, primaries, transfer,
and HDR mastering metadata.

A YUV frame becomes RGB (and RGB becomes YUV again) through a matrix and a
range; a player shows the RGB through primaries and a transfer curve.
vidstyle converts with the matrix and range the input is tagged with (or,
untagged, the one a player would assume for its size), writes the output
with the same ones and tags it with all four, so that a frame at
``--strength 0`` comes back as it went in. The numbers are FFmpeg's
(``AVColorSpace``, ``AVColorRange``, ``AVColorPrimaries``,
``AVColorTransferCharacteristic``), which PyAV passes through as ints.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import numpy as np

UNSPECIFIED = 2  # matrix, primaries and transfer alike
RANGE_UNSPECIFIED, RANGE_LIMITED, RANGE_FULL = 0, 1, 2
BT709, BT470BG, SMPTE170M, BT2020_NCL = 1, 5, 6, 9
PQ, HLG = 16, 18

MATRIX_NAMES = {0: "rgb", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}
PRIMARIES_NAMES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 11: "smpte431", 12: "smpte432"}
TRANSFER_NAMES = {
    1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
    13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 18: "arib-std-b67",
}
RANGE_NAMES = {RANGE_LIMITED: "limited", RANGE_FULL: "full"}
# The matrices swscale converts with, by FFmpeg's AVColorSpace number.
SWSCALE_MATRICES = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
# The encoder that takes mastering-display and light-level data as options
# (FFmpeg's other encoders read them only from side data PyAV cannot set).
HDR_ENCODER = "libx265"


def is_high_definition(width: int, height: int) -> bool:
    """The size rule players use for an untagged matrix: BT.709 above
    standard definition, BT.601 at or below it."""
    return width >= 1280 or height > 576


def _side_data(frame: av.VideoFrame) -> list[tuple[str, bytes]]:
    """(kind, bytes) of each piece of a frame's side data that PyAV can name
    (it raises on kinds newer than itself, as a TIFF's ICC profile is)."""
    found = []
    try:
        side_data = frame.side_data
        count = len(side_data)
    except ValueError:
        return found
    for index in range(count):  # PyAV's mapping view of side data cannot iterate
        try:
            item = side_data[index]
            found.append((getattr(item.type, "name", str(item.type)), bytes(item)))
        except ValueError:
            continue
    return found


@dataclass(frozen=True)
class MasteringDisplay:
    """The display an HDR master was graded on (SMPTE ST 2086)."""

    primaries: tuple[tuple[Fraction, Fraction], ...]  # red, green, blue (x, y)
    white_point: tuple[Fraction, Fraction]
    min_luminance: Fraction  # cd/m2
    max_luminance: Fraction

    @classmethod
    def from_side_data(cls, data: bytes) -> "MasteringDisplay | None":
        """From FFmpeg's AVMasteringDisplayMetadata: 20 rationals, then
        whether the primaries and the luminance are present."""
        if len(data) < 88:
            return None
        values = struct.unpack("<22i", data[:88])
        if not (values[20] and values[21]):
            return None
        ratio = [Fraction(values[i], values[i + 1] or 1) for i in range(0, 20, 2)]
        return cls(((ratio[0], ratio[1]), (ratio[2], ratio[3]), (ratio[4], ratio[5])), (ratio[6], ratio[7]), ratio[8], ratio[9])

    def encoder_value(self) -> str:
        """HEVC/AV1 SEI units: chromaticities in 0.00002, luminance in 0.0001 cd/m2."""
        (rx, ry), (gx, gy), (bx, by) = self.primaries
        wx, wy = self.white_point

        def xy(x: Fraction, y: Fraction) -> str:
            return f"({round(x * 50000)},{round(y * 50000)})"

        light = f"L({round(self.max_luminance * 10000)},{round(self.min_luminance * 10000)})"
        return f"G{xy(gx, gy)}B{xy(bx, by)}R{xy(rx, ry)}WP{xy(wx, wy)}{light}"


@dataclass(frozen=True)
class ColourTags:
    """How a stream's code values are to be read."""

    matrix: int = UNSPECIFIED
    range: int = RANGE_UNSPECIFIED
    primaries: int = UNSPECIFIED
    transfer: int = UNSPECIFIED
    mastering: MasteringDisplay | None = None
    light_level: tuple[int, int] | None = None  # MaxCLL, MaxFALL in cd/m2
    assumed: tuple[str, ...] = ()  # the tags filled in because the input had none

    @classmethod
    def of_frame(cls, frame: av.VideoFrame) -> "ColourTags":
        mastering = light = None
        for kind, data in _side_data(frame):
            if kind == "MASTERING_DISPLAY_METADATA":
                mastering = MasteringDisplay.from_side_data(data)
            elif kind == "CONTENT_LIGHT_LEVEL" and len(data) >= 8:
                light = struct.unpack("<2I", data[:8])
        return cls(
            int(frame.colorspace), int(frame.color_range), int(frame.color_primaries), int(frame.color_trc), mastering, light
        )

    def settled(self, width: int, height: int, rgb: bool) -> "ColourTags":
        """The tags with a matrix and range filled in where the input had
        none, as players fill them: BT.709 for HD and BT.601 below, limited
        range for YUV. An RGB input has no matrix and is full range."""
        if rgb:
            return replace(self, matrix=0, range=RANGE_FULL)
        assumed = []
        matrix, range_ = self.matrix, self.range
        if matrix not in SWSCALE_MATRICES:
            matrix = BT709 if is_high_definition(width, height) else BT470BG
            assumed.append("matrix")
        if range_ not in RANGE_NAMES:
            range_ = RANGE_LIMITED
            assumed.append("range")
        return replace(self, matrix=matrix, range=range_, assumed=tuple(assumed))

    @property
    def hdr(self) -> bool:
        return self.transfer in (PQ, HLG)

    def describe(self) -> str:
        """``bt709 limited, primaries bt709, transfer bt709``; unknown tags left out."""
        parts = []
        if self.matrix in MATRIX_NAMES:
            parts.append(MATRIX_NAMES[self.matrix] + (" (assumed)" if "matrix" in self.assumed else ""))
        if self.range in RANGE_NAMES:
            parts.append(RANGE_NAMES[self.range] + (" (assumed)" if "range" in self.assumed else ""))
        if self.primaries in PRIMARIES_NAMES:
            parts.append(f"primaries {PRIMARIES_NAMES[self.primaries]}")
        if self.transfer in TRANSFER_NAMES:
            parts.append(f"transfer {TRANSFER_NAMES[self.transfer]}")
        if self.mastering:
            parts.append(f"mastered at {float(self.mastering.max_luminance):g} cd/m2")
        if self.light_level:
            parts.append(f"MaxCLL {self.light_level[0]}, MaxFALL {self.light_level[1]}")
        return ", ".join(parts) or "untagged"

    def for_yuv_output(self, width: int, height: int) -> "ColourTags":
        """The matrix and range to encode YUV with: the input's, or for an
        RGB input the one a player assumes for this size, in limited range."""
        if self.matrix in SWSCALE_MATRICES and self.range in RANGE_NAMES:
            return self
        return replace(self, matrix=BT709 if is_high_definition(width, height) else BT470BG, range=RANGE_LIMITED)

    def tag_frame(self, frame: av.VideoFrame) -> None:
        frame.colorspace = self.matrix
        frame.color_range = self.range
        frame.color_primaries = self.primaries
        frame.color_trc = self.transfer

    def tag_codec(self, context: av.codec.context.CodecContext) -> None:
        """Tag the encoder, which writes the tags into the bit stream and
        the container's header."""
        context.colorspace = self.matrix
        context.color_range = self.range
        context.color_primaries = self.primaries
        context.color_trc = self.transfer

    def hdr_options(self, codec: str) -> tuple[dict[str, str], str | None]:
        """Encoder options that carry the mastering display and light level,
        and a warning when this encoder cannot carry them."""
        if not (self.mastering or self.light_level):
            return {}, None
        if codec != HDR_ENCODER:
            return {}, f"{codec} cannot be given the input's HDR mastering metadata: it is dropped (--codec {HDR_ENCODER} keeps it)"
        params = ["hdr10=1"]
        if self.mastering:
            params.append(f"master-display={self.mastering.encoder_value()}")
        if self.light_level:
            params.append(f"max-cll={self.light_level[0]},{self.light_level[1]}")
        return {"x265-params": ":".join(params)}, None


# SDR as it is tagged after --hdr sdr: BT.709 everything, limited range.
SDR_BT709 = ColourTags(BT709, RANGE_LIMITED, BT709, BT709)
# HDR reference white (ITU-R BT.2408): the level SDR white is mapped from.
REFERENCE_WHITE_NITS = 203.0
HLG_PEAK_NITS = 1000.0  # the nominal display HLG is rendered for
# Linear BT.2020 RGB to linear BT.709 RGB (ITU-R BT.2087).
BT2020_TO_BT709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]], np.float32
)
LUMA_BT2020 = np.array([0.2627, 0.6780, 0.0593], np.float32)


def _pq_to_nits(code: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 EOTF: code values in [0, 1] to cd/m2."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    power = np.power(np.clip(code, 0, 1), 1 / m2)
    return 10000.0 * np.power(np.maximum(power - c1, 0) / (c2 - c3 * power), 1 / m1)


def _hlg_to_nits(code: np.ndarray) -> np.ndarray:
    """ITU-R BT.2100 HLG: inverse OETF, then the OOTF (system gamma 1.2)
    for a display of HLG_PEAK_NITS."""
    a = 0.17883277
    b, c = 1 - 4 * a, 0.5 - a * np.log(4 * a)
    code = np.clip(code, 0, 1)
    scene = np.where(code <= 0.5, code**2 / 3, (np.exp((code - c) / a) + b) / 12)
    luminance = np.maximum(scene @ LUMA_BT2020, 1e-6)[..., None]
    return HLG_PEAK_NITS * scene * luminance**0.2


SDR_KNEE = 0.7  # of SDR white: below it light passes unchanged, above it highlights are compressed


def _compress_highlights(luminance: np.ndarray, white: float) -> np.ndarray:
    """Luminance relative to SDR white, unchanged up to SDR_KNEE, then
    ``white`` (the peak) brought smoothly to 1: the curve
    x (1 + a) / (1 + a x) over the range above the knee, its slope 1 at
    the knee so that no band shows."""
    if white <= 1:
        return np.minimum(luminance, 1.0)
    span = white - SDR_KNEE
    a = span / (1 - SDR_KNEE) - 1
    x = np.clip((luminance - SDR_KNEE) / span, 0, 1)
    above = SDR_KNEE + (1 - SDR_KNEE) * x * (1 + a) / (1 + a * x)
    return np.where(luminance <= SDR_KNEE, luminance, above)


def hdr_to_sdr(rgb: np.ndarray, tags: ColourTags, out_dtype=np.uint8) -> np.ndarray:
    """An HDR frame (RGB code values in BT.2020, PQ or HLG) as SDR BT.709:
    to light, reference white to SDR white, highlights compressed on
    luminance up to the mastering peak (so hues keep),
    into BT.709 primaries, and encoded with the BT.1886 display gamma."""
    scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
    code = rgb.astype(np.float32) / scale
    nits = _hlg_to_nits(code) if tags.transfer == HLG else _pq_to_nits(code)
    light = nits / REFERENCE_WHITE_NITS
    peak = float(tags.mastering.max_luminance) if tags.mastering else (tags.light_level or (1000, 0))[0] or 1000
    white = max(peak / REFERENCE_WHITE_NITS, 1.0)
    luminance = np.maximum(light @ LUMA_BT2020, 1e-6)
    light = light * (_compress_highlights(luminance, white) / luminance)[..., None]
    light = np.clip(light @ BT2020_TO_BT709.T, 0, 1)
    encoded = np.power(light, 1 / 2.4)
    top = 65535.0 if out_dtype == np.uint16 else 255.0
    return np.clip(encoded * top + 0.5, 0, top).astype(out_dtype)
