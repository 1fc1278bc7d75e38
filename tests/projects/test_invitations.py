"""Membership by consent (finding 9 of issue 34): a project admin invites, the invitee accepts or declines (home page
or the link shown once), unknown and known usernames get the same answer, and every member may leave."""

import re
from datetime import timedelta

from django.utils import timezone

from projects import models
from projects.models import Membership


def _invite(client, username, role="labeler"):
    response = client.post("/console/alpha/members/", {"username": username, "role": role})
    text = response.content.decode()
    link = re.search(r'id="shown-link">[^<]*/invitations/join/([\w-]+)<', text)
    return response, text, link.group(1) if link else None


def test_an_invitation_answers_the_same_for_unknown_and_known_usernames(client, cast, project):
    client.force_login(cast["project_admin"])
    known, known_text, known_link = _invite(client, cast["admin"].username)  # the superuser
    unknown, unknown_text, unknown_link = _invite(client, "nobody-here")
    assert known.status_code == unknown.status_code == 200 and known_link and unknown_link
    normal = [
        re.sub(r'(value|nonce)="[^"]*"', "", text.replace(link, "LINK").replace(name, "NAME"))
        for text, link, name in ((known_text, known_link, "root"), (unknown_text, unknown_link, "nobody-here"))
    ]
    assert normal[0] == normal[1]
    assert not Membership.objects.filter(user=cast["admin"], project=project).exists()  # not without consent
    assert models.Invitation.objects.count() == 1 and known_link not in str(
        list(models.Invitation.objects.values_list())
    )
    assert "create" not in client.get("/console/alpha/members/").content.decode().split('id="add-member"')[1]


def test_the_invitee_accepts_or_declines_on_their_home_page(client, cast, project):
    invitee, outsider = cast["other_labeler"], cast["other_consumer"]
    client.force_login(cast["project_admin"])
    _invite(client, invitee.username, "consumer")
    invitation = models.Invitation.objects.get()
    client.force_login(outsider)
    assert "Alpha" not in client.get("/").content.decode()
    assert client.post(f"/invitations/{invitation.pk}/accept").status_code == 404  # not theirs
    client.force_login(invitee)
    home = client.get("/").content.decode()
    assert f'action="/invitations/{invitation.pk}/accept"' in home and "Alpha" in home
    assert client.get(f"/invitations/{invitation.pk}/accept").status_code == 405  # POST (with CSRF) only
    assert client.post(f"/invitations/{invitation.pk}/accept").status_code == 302
    assert Membership.objects.get(user=invitee, project=project).role == "consumer"
    assert not models.Invitation.objects.exists()
    client.force_login(cast["project_admin"])
    _invite(client, outsider.username)
    client.force_login(outsider)
    client.post(f"/invitations/{models.Invitation.objects.get().pk}/decline")
    assert (
        not models.Invitation.objects.exists()
        and not Membership.objects.filter(user=outsider, project=project).exists()
    )


def test_the_link_works_for_the_invitee_only_and_expires(client, cast, project):
    invitee = cast["other_admin"]
    client.force_login(cast["project_admin"])
    _, _, link = _invite(client, invitee.username, "admin")
    client.force_login(cast["other_labeler"])
    assert client.get(f"/invitations/join/{link}").status_code == 404
    client.force_login(invitee)
    page = client.get(f"/invitations/join/{link}")
    assert page.status_code == 200 and "Alpha" in page.content.decode()
    assert not Membership.objects.filter(user=invitee, project=project).exists()  # a GET changes nothing
    models.Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.post(f"/invitations/join/{link}").status_code == 404
    models.Invitation.objects.update(expires_at=timezone.now() + timedelta(days=1))
    assert client.post(f"/invitations/join/{link}").status_code == 302
    assert Membership.objects.get(user=invitee, project=project).role == "admin"


def test_a_site_admin_still_adds_members_directly(client, cast, project):
    client.force_login(cast["admin"])
    client.post("/console/alpha/members/", {"username": cast["other_labeler"].username, "role": "labeler"})
    assert Membership.objects.get(user=cast["other_labeler"], project=project).role == "labeler"
    made = client.post("/console/alpha/members/", {"username": "reader", "role": "consumer", "create": "on"})
    assert 'id="shown-password"' in made.content.decode() and 'id="shown-token"' in made.content.decode()


def test_every_member_may_leave_the_sole_admin_too(client, cast, project):
    for who in ("labeler", "project_admin"):  # padmin is alpha's only admin
        client.force_login(cast[who])
        assert 'action="/projects/alpha/leave"' in client.get("/").content.decode()
        assert client.post("/projects/alpha/leave").status_code == 302
        assert not Membership.objects.filter(user=cast[who], project=project).exists()
    assert client.post("/projects/alpha/leave").status_code == 404  # no longer a member
    client.force_login(cast["admin"])
    assert client.get("/console/alpha/members/").status_code == 200  # a site admin runs it now
