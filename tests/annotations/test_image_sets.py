"""Imported image sets: folders, zip files and uploads; matching files to prompts by number or text; every problem
reported at once; zip slip and zip bombs refused; images re-encoded as RGB PNGs with no metadata."""

import io
import random
import struct
import unicodedata
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, PngImagePlugin

from annotations import image_sets
from annotations.image_sets import ImageSetReport, read_image_set

PROMPTS = [
    "A red bicycle leaning against a brick wall",
    "Two cats sleeping on a blue sofa",
    "A lighthouse on a rocky coast at sunset",
    "Café terrace at night, oil painting",
    "An astronaut riding a horse in the desert",
    "A bowl of fresh strawberries",
    "A snowy mountain village",
    "A robot reading a newspaper",
]
SIZE = (8, 8)


def image_bytes(colour=(200, 10, 10), *, size=SIZE, mode="RGB", fmt="PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise_png(size=(64, 64)) -> bytes:
    """A PNG that does not compress: its image data fills most of the file."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, random.Random(0).randbytes(size[0] * size[1] * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def full_set() -> dict[str, bytes]:
    """One file per prompt, named every way a prompt can be named, in subfolders; each image a colour of its own."""
    names = [
        "1.png",
        "part-a/002.PNG",
        "prompt-3.jpg",
        "part-b/deep/café terrace at night - oil painting.webp",
        "Item_05.jpeg",
        "a_bowl_of_fresh_strawberries.png",
        "image 7.png",
        "prompt008.png",
    ]
    return {name: image_bytes((number * 20, 0, 0), fmt=_format(name)) for number, name in enumerate(names, start=1)}


def _format(name: str) -> str:
    return {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}[name.rsplit(".", 1)[1].lower()]


def chunk_types(png: bytes) -> list[bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    types, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        types.append(png[offset + 4 : offset + 8])
        offset += 12 + length
    return types


def decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    image.load()
    return image


def assert_full_set_read(report: ImageSetReport) -> None:
    assert report.ok, report.summary()
    assert sorted(report.images) == list(range(1, 9))
    for number, png in report.images.items():
        red = decoded(png).getpixel((4, 4))[0]
        assert abs(red - number * 20) <= 3, (number, red)  # the right file for each prompt (JPEG is lossy)
    assert report.summary() == "Every prompt has its image (8 images)."


# Sources ------------------------------------------------------------------------------------------


def test_a_folder_with_subfolders_is_matched_by_number_prefix_padding_and_text(tmp_path):
    root = write_folder(tmp_path / "set", full_set())
    assert_full_set_read(read_image_set(root, prompts=PROMPTS, size=SIZE))
    assert_full_set_read(read_image_set(str(root), prompts=PROMPTS))


def test_a_zip_file_is_read_like_a_folder(tmp_path):
    path = tmp_path / "set.zip"
    path.write_bytes(zip_bytes(full_set()))
    assert_full_set_read(read_image_set(path, prompts=PROMPTS, size=SIZE))


def test_an_uploaded_zip_is_read_and_left_open():
    upload = io.BytesIO(zip_bytes(full_set()))
    assert_full_set_read(read_image_set(upload, prompts=PROMPTS, size=SIZE))
    assert not upload.closed
    django_upload = SimpleUploadedFile("set.zip", zip_bytes(full_set()), content_type="application/zip")
    assert_full_set_read(read_image_set(django_upload, prompts=PROMPTS, size=SIZE))


def test_what_is_no_folder_or_zip_is_refused_by_name(tmp_path):
    with pytest.raises(ValidationError, match="There is no folder or file at"):
        read_image_set(tmp_path / "nowhere", prompts=PROMPTS)
    (tmp_path / "images.tar").write_bytes(b"not a zip at all")
    with pytest.raises(ValidationError, match=r"images\.tar is neither a folder nor a zip archive"):
        read_image_set(tmp_path / "images.tar", prompts=PROMPTS)
    with pytest.raises(ValidationError, match=r"The upload set\.zip is not a zip archive"):
        read_image_set(SimpleUploadedFile("set.zip", b"PK but not really"), prompts=PROMPTS)


# Matching -----------------------------------------------------------------------------------------


def test_missing_and_extra_files_are_all_reported(tmp_path):
    files = {
        "1.png": image_bytes(),
        "3.png": image_bytes(),
        "0.png": image_bytes(),  # prompts are numbered from 1
        "9.png": image_bytes(),  # beyond the 8 prompts
        "prompt-0012.png": image_bytes(),
        "12345678901234567890.png": image_bytes(),
        "cat.png": image_bytes(),
        "notes.txt": b"made with method X",
        "README": b"",
        "2.gif": image_bytes(fmt="GIF"),  # not an accepted extension, even for a right number
    }
    report = read_image_set(write_folder(tmp_path, files), prompts=PROMPTS)
    assert sorted(report.images) == [1, 3]
    assert report.missing == (2, 4, 5, 6, 7, 8)
    assert report.extra == (
        "0.png",
        "12345678901234567890.png",
        "2.gif",
        "9.png",
        "README",
        "cat.png",
        "notes.txt",
        "prompt-0012.png",
    )
    assert not report.ok
    assert report.summary() == (
        "6 prompts have no image (2, 4, 5, 6, 7, 8); 8 files match no prompt (0.png, 12345678901234567890.png, "
        "2.gif, 9.png, README, cat.png, notes.txt, prompt-0012.png)."
    )


def test_extra_files_alone_make_the_set_not_ok(tmp_path):
    report = read_image_set(write_folder(tmp_path, {**full_set(), "spare.png": image_bytes()}), prompts=PROMPTS)
    assert sorted(report.images) == list(range(1, 9))
    assert report.extra == ("spare.png",)
    assert not report.ok
    assert report.summary() == "1 file matches no prompt (spare.png)."


def test_a_prompt_matched_by_several_files_is_a_duplicate_and_none_is_used(tmp_path):
    files = {"7.png": image_bytes(), "sub/007.jpg": image_bytes(fmt="JPEG"), "1.png": image_bytes()}
    report = read_image_set(write_folder(tmp_path, files), prompts=PROMPTS)
    assert report.duplicates == ((7, ("7.png", "sub/007.jpg")),)
    assert sorted(report.images) == [1]
    assert 7 not in report.missing
    assert "1 prompt has several files (7: 7.png, sub/007.jpg)" in report.summary()


def test_text_names_ignore_case_punctuation_separators_and_unicode_form(tmp_path):
    decomposed = unicodedata.normalize("NFD", "CAFÉ_terrace_at_night_oil_painting")  # as macOS writes names
    files = {
        "a-red-bicycle-leaning-against-a-brick-wall.png": image_bytes(),
        "Two cats, sleeping on a blue sofa!.png": image_bytes(),
        f"{decomposed}.png": image_bytes(),
        "a lighthouse on a rocky coast.png": image_bytes(),  # not the whole prompt: no match
    }
    report = read_image_set(write_folder(tmp_path, files), prompts=PROMPTS)
    assert sorted(report.images) == [1, 2, 4]
    assert report.extra == ("a lighthouse on a rocky coast.png",)


def test_a_number_shaped_name_is_never_read_as_text(tmp_path):
    prompts = ["2024", "a second prompt"]
    report = read_image_set(write_folder(tmp_path, {"2024.png": image_bytes()}), prompts=prompts)
    assert report.images == {}
    assert report.extra == ("2024.png",)


def test_a_long_name_cut_by_the_file_system_matches_the_prompt_it_begins(tmp_path):
    long_prompt = "a very detailed painting of " + " and ".join(f"object number {n}" for n in range(40))
    prompts = [long_prompt, "a short prompt about cats and dogs in a garden"]
    cut = image_sets.text_key(long_prompt)[:240]
    short_cut = "a_short_prompt_about_cats"
    files = {f"{cut}.png": image_bytes(), f"{short_cut}.png": image_bytes()}
    report = read_image_set(zip_bytes_io(files), prompts=prompts)
    assert sorted(report.images) == [1]
    assert report.extra == (f"{short_cut}.png",)  # under LONG_NAME_BYTES: only a whole prompt's name matches


def zip_bytes_io(files: dict[str, bytes]) -> io.BytesIO:
    return io.BytesIO(zip_bytes(files))


def test_a_name_that_fits_several_prompts_alike_names_none(tmp_path):
    prompts = ["A red cat", "a red cat!", "a dog"]
    report = read_image_set(write_folder(tmp_path, {"a_red_cat.png": image_bytes()}), prompts=prompts)
    assert report.images == {}
    assert report.missing == (1, 2, 3)
    assert report.unreadable == (
        ("a_red_cat.png", "its name fits prompts 1 and 2 alike; name it by its prompt's number"),
    )


def test_hidden_files_and_macos_junk_are_ignored():
    files = {
        **full_set(),
        "__MACOSX/._1.png": b"\x00\x05\x16\x07 AppleDouble",
        "__MACOSX/part-a/._002.PNG": b"junk",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "part-a/.DS_Store": b"junk",
        ".hidden/3.png": b"junk",
        "._4.png": b"junk",
        "Thumbs.db": b"junk",
        "part-b/desktop.ini": b"junk",
        "empty-folder/": b"",
    }
    assert_full_set_read(read_image_set(zip_bytes_io(files), prompts=PROMPTS, size=SIZE))


def test_hidden_files_and_folders_are_ignored_in_a_folder_too(tmp_path):
    files = {**full_set(), ".DS_Store": b"junk", ".git/3.png": b"junk", "part-a/._002.PNG": b"junk"}
    assert_full_set_read(read_image_set(write_folder(tmp_path, files), prompts=PROMPTS, size=SIZE))


# Unusable files -----------------------------------------------------------------------------------


def test_undecodable_files_are_reported_with_the_reason(tmp_path):
    good = noise_png()
    bmp = io.BytesIO()
    Image.new("RGB", SIZE).save(bmp, format="BMP")
    files = {
        "1.png": good[: len(good) // 2],  # truncated
        "2.png": b"a text file, not an image",
        "3.png": bmp.getvalue(),  # an image, but not a format the set may hold
        "4.png": good,
    }
    report = read_image_set(write_folder(tmp_path, files), prompts=PROMPTS)
    assert sorted(report.images) == [4]
    assert report.missing == (5, 6, 7, 8)  # a prompt whose file cannot be used is not missing: the file is named
    reasons = dict(report.unreadable)
    assert set(reasons) == {"1.png", "2.png", "3.png"}
    assert reasons["1.png"].startswith("cannot be decoded (")
    assert reasons["2.png"] == "is not a PNG, JPEG or WebP image"
    assert reasons["3.png"] == "is not a PNG, JPEG or WebP image"
    assert "3 files cannot be used (1.png: cannot be decoded" in report.summary()
    assert "2.png: is not a PNG, JPEG or WebP image; 3.png: is not a PNG, JPEG or WebP image)" in report.summary()


def test_an_image_of_another_size_is_reported_not_resized(tmp_path):
    files = {"1.png": image_bytes(size=(640, 480)), "2.png": image_bytes(size=(512, 512))}
    report = read_image_set(write_folder(tmp_path, files), prompts=PROMPTS[:2], size=(512, 512))
    assert sorted(report.images) == [2]
    assert report.unreadable == (("1.png", "is 640×480, the study's images are 512×512"),)
    assert decoded(report.images[2]).size == (512, 512)
    unchecked = read_image_set(write_folder(tmp_path, files), prompts=PROMPTS[:2])
    assert decoded(unchecked.images[1]).size == (640, 480)


def test_an_animation_is_refused(tmp_path):
    buffer = io.BytesIO()
    frames = [Image.new("RGB", SIZE, (0, 0, 0)), Image.new("RGB", SIZE, (255, 255, 255))]
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])
    report = read_image_set(write_folder(tmp_path, {"1.png": buffer.getvalue()}), prompts=PROMPTS[:1])
    assert report.unreadable == (("1.png", "is an animation of 2 frames; a still image is needed"),)


def test_zip_members_with_unsafe_paths_are_reported_and_not_read():
    files = {"../7.png": image_bytes(), "/abs/8.png": image_bytes(), "ok/../../1.txt": b"x", "2.png": image_bytes()}
    report = read_image_set(zip_bytes_io(files), prompts=PROMPTS)
    assert sorted(report.images) == [2]
    assert 7 in report.missing and 8 in report.missing
    why = "its path leaves the archive's folder (absolute or with ..); it was not read"
    assert report.unreadable == (("../7.png", why), ("/abs/8.png", why), ("ok/../../1.txt", why))
    assert report.extra == ()


def test_a_windows_drive_path_is_unsafe_too():
    report = read_image_set(zip_bytes_io({"C:\\images\\1.png": image_bytes()}), prompts=PROMPTS[:1])
    assert [name for name, _ in report.unreadable] == ["C:/images/1.png"]
    assert report.missing == (1,)


def test_a_member_larger_than_the_cap_is_not_decompressed(monkeypatch):
    archive = zip_bytes({"1.png": b"\x00" * 2_000_000, "2.png": image_bytes()})
    assert len(archive) < 50_000  # two megabytes of zeros compress to a few kilobytes
    monkeypatch.setattr(image_sets, "MAX_FILE_BYTES", 1024 * 1024)
    read = []
    real_read = zipfile.ZipFile.read
    monkeypatch.setattr(
        zipfile.ZipFile, "read", lambda self, name, *args: read.append(name.filename) or real_read(self, name, *args)
    )
    report = read_image_set(io.BytesIO(archive), prompts=PROMPTS[:2])
    assert report.unreadable == (("1.png", "is 1.91 MB; files over 1 MB are not read"),)
    assert sorted(report.images) == [2]
    assert read == ["2.png"]


def test_a_file_in_a_folder_larger_than_the_cap_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(image_sets, "MAX_FILE_BYTES", 100)
    data = noise_png()
    report = read_image_set(write_folder(tmp_path, {"1.png": data}), prompts=PROMPTS[:1])
    assert report.unreadable == (("1.png", f"is {len(data):,} bytes; files over 100 bytes are not read"),)


def test_too_many_members_refuse_the_whole_set(tmp_path, monkeypatch):
    monkeypatch.setattr(image_sets, "MAX_FILES", 5)
    files = {f"{n}.png": b"x" for n in range(1, 7)}
    with pytest.raises(ValidationError, match="The upload holds more than 5 files"):
        read_image_set(zip_bytes_io(files), prompts=PROMPTS)
    with pytest.raises(ValidationError, match="holds more than 5 files"):
        read_image_set(write_folder(tmp_path, files), prompts=PROMPTS)
    five = {f"{n}.png": image_bytes() for n in range(1, 6)}
    assert sorted(read_image_set(zip_bytes_io(five), prompts=PROMPTS[:5]).images) == [1, 2, 3, 4, 5]


def test_a_damaged_zip_member_is_reported(tmp_path):
    data = image_bytes(size=(32, 32))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("1.png", data)
    damaged = bytearray(buffer.getvalue())
    at = bytes(damaged).index(data) + len(data) // 2
    damaged[at] ^= 0xFF
    report = read_image_set(io.BytesIO(bytes(damaged)), prompts=PROMPTS[:1])
    assert report.unreadable == (("1.png", "cannot be read (Bad CRC-32 for file '1.png')"),)


def test_pillows_pixel_limit_is_respected(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    files = {"1.png": image_bytes(size=(40, 40)), "2.png": image_bytes(size=(100, 100)), "3.png": image_bytes()}
    with pytest.warns(Image.DecompressionBombWarning):  # Pillow warns between the limit and twice it
        report = read_image_set(write_folder(tmp_path, files), prompts=PROMPTS[:3])
    reasons = dict(report.unreadable)
    assert reasons["1.png"] == "is 40×40, more than 1,000 pixels (Pillow's guard against decompression bombs)"
    assert reasons["2.png"].startswith("is too large to decode safely (Image size (10000 pixels) exceeds limit")
    assert sorted(report.images) == [3]


# What comes out -----------------------------------------------------------------------------------


def test_metadata_is_stripped(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "MethodX v2 (the imported method)")
    info.add_itxt("Description", "made by MethodX")
    exif = Image.Exif()
    exif[0x0131] = "MethodX"  # Software
    icc = _srgb_profile()
    png = image_bytes(pnginfo=info, exif=exif.tobytes(), icc_profile=icc)
    assert b"MethodX" in png and set(chunk_types(png)) >= {b"tEXt", b"iTXt", b"eXIf", b"iCCP"}
    jpeg = image_bytes(fmt="JPEG", exif=exif.tobytes(), icc_profile=icc, comment=b"MethodX")
    assert b"MethodX" in jpeg
    report = read_image_set(write_folder(tmp_path, {"1.png": png, "2.jpg": jpeg}), prompts=PROMPTS[:2])
    assert report.ok, report.summary()
    for out in report.images.values():
        assert b"MethodX" not in out
        assert chunk_types(out) == [b"IHDR", b"IDAT", b"IEND"]
        assert decoded(out).info == {}


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_transparency_is_composited_on_white_and_the_result_is_rgb(tmp_path):
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    rgba.putpixel((1, 0), (255, 0, 0, 128))
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG")
    palette = Image.new("P", (2, 1), 0)
    palette.putpalette([0, 0, 255, 0, 255, 0])
    palette.putpixel((1, 0), 1)
    paletted = io.BytesIO()
    palette.save(paletted, format="PNG", transparency=0)
    files = {"1.png": buffer.getvalue(), "2.png": paletted.getvalue(), "3.png": image_bytes((90, 90), mode="LA")}
    report = read_image_set(write_folder(tmp_path, files), prompts=PROMPTS[:3])
    first, second, third = (decoded(report.images[n]) for n in (1, 2, 3))
    assert first.mode == second.mode == third.mode == "RGB"
    assert first.getpixel((0, 0)) == (255, 255, 255)  # transparent: white
    assert first.getpixel((1, 0)) == pytest.approx((255, 127, 127), abs=1)  # half red over white
    assert second.getpixel((0, 0)) == (255, 255, 255)
    assert second.getpixel((1, 0)) == (0, 255, 0)
    assert third.getpixel((0, 0)) == pytest.approx((197, 197, 197), abs=1)  # grey 90 at alpha 90 over white


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    buffer = io.BytesIO()
    Image.new("I;16", SIZE, 30000).save(buffer, format="PNG")
    report = read_image_set(write_folder(tmp_path, {"1.png": buffer.getvalue()}), prompts=PROMPTS[:1])
    assert decoded(report.images[1]).getpixel((0, 0)) == (117, 117, 117)  # 30000 / 257


def test_the_exif_orientation_is_applied_before_the_size_check(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    image = Image.new("RGB", (16, 8), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 8, 8))  # the left half white
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    report = read_image_set(write_folder(tmp_path, {"1.jpg": buffer.getvalue()}), prompts=PROMPTS[:1], size=(8, 16))
    assert report.ok, report.summary()
    shown = decoded(report.images[1])
    assert shown.size == (8, 16)
    assert shown.getpixel((4, 2))[0] > 200 and shown.getpixel((4, 13))[0] < 50  # the white half now on top


def test_the_summary_names_ten_of_each_and_counts_the_rest(tmp_path):
    prompts = [f"prompt {n}" for n in range(1, 16)]
    files = {f"stray-{n:02}.png": image_bytes() for n in range(12)}
    report = read_image_set(write_folder(tmp_path, files), prompts=prompts)
    assert report.summary() == (
        "15 prompts have no image (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, … and 5 more); 12 files match no prompt "
        "(stray-00.png, stray-01.png, stray-02.png, stray-03.png, stray-04.png, stray-05.png, stray-06.png, "
        "stray-07.png, stray-08.png, stray-09.png, … and 2 more)."
    )


def test_the_report_is_frozen_and_images_are_png_bytes():
    report = read_image_set(zip_bytes_io({"1.jpg": image_bytes(fmt="JPEG")}), prompts=PROMPTS[:1])
    assert isinstance(report.images[1], bytes) and report.images[1].startswith(b"\x89PNG")
    with pytest.raises(AttributeError):
        report.missing = ()  # type: ignore[misc]
