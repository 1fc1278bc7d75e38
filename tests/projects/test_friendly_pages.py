"""What every user meets outside the project pages (issue 35): friendly 403/404/500 pages in every mode (a labeler
never sees DEBUG's technical page), the admin's sign-in page naming who is signed in, role names in words, and the
language a user chose kept on their account and applied at their next sign-in in another browser."""

from django.template.loader import get_template
from django.test import Client

from projects.models import UserPreference


def test_a_labeler_gets_the_friendly_404_even_in_debug(client, cast, settings):
    settings.DEBUG = True
    client.force_login(cast["labeler"])
    for path in ("/label/alpha/dashboard/", "/console/alpha/", "/no/such/page"):
        page = client.get(path)
        text = page.content.decode()
        assert page.status_code == 404 and 'id="error-404"' in text and '<a href="/">' in text, path
        assert "URLconf" not in text and "Traceback" not in text, path
    assert client.get("/api/v1/no-such-thing").json() == {"detail": "Not found."}  # the API keeps JSON
    client.force_login(cast["admin"])
    assert "URLconf" in client.get("/no/such/page").content.decode()  # staff keep Django's technical page
    settings.DEBUG = False
    client.force_login(cast["labeler"])
    assert 'id="error-404"' in client.get("/label/alpha/dashboard/").content.decode()
    assert "Something went wrong" in get_template("500.html").render()  # the 500 page needs no context
    assert "Not allowed" in get_template("403.html").render()


def test_the_admin_sign_in_page_names_who_is_signed_in(client, cast):
    client.force_login(cast["labeler"])
    page = client.get("/admin/login/?next=/admin/").content.decode()
    assert "authenticated as lab," in page


def test_the_home_page_names_roles_in_words(client, cast):
    client.force_login(cast["labeler"])
    assert ">Labeler</td>" in client.get("/").content.decode()
    assert ">标注员</td>" in client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()


def test_the_chosen_language_follows_the_user_to_another_browser(client, cast):
    client.force_login(cast["labeler"])
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert UserPreference.objects.get(user=cast["labeler"]).language == "zh-hans"
    elsewhere = Client()  # another browser: no language cookie
    assert '<html lang="en">' in elsewhere.get("/accounts/login/").content.decode()
    signed_in = elsewhere.post("/accounts/login/", {"username": "lab", "password": "a-long-test-password-1"})
    assert signed_in.status_code == 302 and signed_in.cookies["django_language"].value == "zh-hans"
    assert '<html lang="zh-hans">' in elsewhere.get("/").content.decode()
    elsewhere.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert UserPreference.objects.get(user=cast["labeler"]).language == "en"
