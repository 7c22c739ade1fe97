"""Images are written and read through Django's storage API only; the file-system default stays atomic."""

import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage

from evalsite import storage_config
from generation import checks
from generation.storage import (
    AtomicFileSystemStorage,
    ImageStorageError,
    new_image_name,
    probe_storage,
    store_pair,
    write_atomic,
)


def test_default_storage_is_the_atomic_file_system_under_media_root(media_root):
    name = write_atomic("img/abc.png", b"first")
    assert isinstance(default_storage._wrapped, AtomicFileSystemStorage)
    assert (media_root / "img" / "abc.png").read_bytes() == b"first"
    assert write_atomic("img/abc.png", b"second, longer") == "img/abc.png" == name
    assert (media_root / "img" / "abc.png").read_bytes() == b"second, longer"
    assert sorted(os.listdir(media_root / "img")) == ["abc.png"], "no temporary file or second name is left"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(media_root):
    write_atomic("img/abc.png", b"old")

    class Broken(ContentFile):
        def chunks(self, chunk_size=None):
            yield b"half of the new"
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        default_storage.save("img/abc.png", Broken(b""))
    assert (media_root / "img" / "abc.png").read_bytes() == b"old"
    assert os.listdir(media_root / "img") == ["abc.png"]


def test_a_storage_that_renames_instead_of_overwriting_is_refused(tmp_path):
    storage = FileSystemStorage(location=tmp_path)  # Django's own: picks another name when the name is taken
    write_atomic("img/abc.png", b"one", storage)
    with pytest.raises(ImageStorageError, match="instead of overwriting"):
        write_atomic("img/abc.png", b"two", storage)
    assert os.listdir(tmp_path / "img") == ["abc.png"], "the file under another name is removed again"


def test_store_pair_checks_sizes_and_writes_in_name_order(tmp_path):
    written = []

    class Recording(AtomicFileSystemStorage):
        def _save(self, name, content):
            written.append(name)
            return super()._save(name, content)

    storage = Recording(location=tmp_path)
    files = {new_image_name(): b"b" * 10, new_image_name(): b"o" * 20}
    store_pair(files, storage)
    assert written == sorted(files), "the upload order follows the opaque names, not the arms"
    assert {name: storage.size(name) for name in files} == {name: len(data) for name, data in files.items()}

    class Truncating(AtomicFileSystemStorage):
        def _save(self, name, content):
            return super()._save(name, ContentFile(content.read()[:3]))

    with pytest.raises(ImageStorageError, match="has 3 bytes after upload; expected"):
        store_pair(files, Truncating(location=tmp_path / "t"))


def test_probe_leaves_nothing_behind(media_root):
    media_root.mkdir(parents=True)
    probe_storage()
    assert os.listdir(media_root) == []
    assert checks.check_image_storage() == []


def test_unusable_media_root_is_a_start_up_error_naming_the_setting(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "a-file"
    settings.MEDIA_ROOT.write_text("not a folder")
    [error] = checks.check_image_storage()
    assert error.id == "evalsite.E001"
    assert "MEDIA_ROOT" in error.msg and str(settings.MEDIA_ROOT) in error.msg


# The settings, from the environment.


def test_file_system_is_the_default():
    assert storage_config.default_storage_setting({}) == {"BACKEND": "generation.storage.AtomicFileSystemStorage"}
    assert storage_config.image_delivery({}) == "proxy"


def test_s3_settings_from_the_environment():
    env = {
        "AWS_STORAGE_BUCKET_NAME": "lab-images",
        "AWS_S3_ENDPOINT_URL": "https://minio.lab.example:9000",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_S3_REGION_NAME": "eu-west-1",
        "AWS_QUERYSTRING_EXPIRE": "90",
        "AWS_LOCATION": "/evalsite/",
    }
    assert storage_config.storage_kind(env) == "s3", "a bucket alone chooses object storage"
    setting = storage_config.default_storage_setting(env)
    options = setting["OPTIONS"]
    assert setting["BACKEND"] == "storages.backends.s3.S3Storage"
    assert (options["bucket_name"], options["endpoint_url"], options["region_name"]) == (
        "lab-images",
        "https://minio.lab.example:9000",
        "eu-west-1",
    )
    assert (options["access_key"], options["secret_key"]) == ("key", "secret")
    assert options["addressing_style"] == "path" and options["location"] == "evalsite"
    assert options["querystring_expire"] == 90 and options["querystring_auth"] is True
    assert options["file_overwrite"] is True and options["object_parameters"] == {} and options["default_acl"] is None
    aws = storage_config.default_storage_setting({"EVALSITE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b"})["OPTIONS"]
    assert aws["endpoint_url"] is None and aws["addressing_style"] is None and "access_key" not in aws
    assert aws["querystring_expire"] == 300
    assert storage_config.image_delivery({**env, "EVALSITE_IMAGE_DELIVERY": "presigned"}) == "presigned"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"EVALSITE_STORAGE": "ftp"}, "EVALSITE_STORAGE"),
        ({"EVALSITE_STORAGE": "s3"}, "AWS_STORAGE_BUCKET_NAME"),
        ({"AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_ENDPOINT_URL": "minio:9000"}, "AWS_S3_ENDPOINT_URL"),
        ({"AWS_STORAGE_BUCKET_NAME": "b", "AWS_ACCESS_KEY_ID": "key"}, "AWS_SECRET_ACCESS_KEY"),
        ({"AWS_STORAGE_BUCKET_NAME": "b", "AWS_QUERYSTRING_EXPIRE": "-5"}, "AWS_QUERYSTRING_EXPIRE"),
        ({"AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_ADDRESSING_STYLE": "dns"}, "AWS_S3_ADDRESSING_STYLE"),
    ],
)
def test_bad_storage_settings_fail_naming_the_variable(env, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        storage_config.default_storage_setting(env)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"EVALSITE_IMAGE_DELIVERY": "cdn"}, "EVALSITE_IMAGE_DELIVERY"),
        ({"EVALSITE_IMAGE_DELIVERY": "presigned"}, "EVALSITE_STORAGE=s3"),
    ],
)
def test_bad_delivery_fails_naming_the_variable(env, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        storage_config.image_delivery(env)
