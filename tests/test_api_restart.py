"""Everything committed survives a restart."""

from conftest import API


def test_restart_keeps_namespaces_projects_tokens_and_the_admin_password(server, api):
    assert api.post("/namespaces", json={"name": "persist-me"}).status_code == 201
    assert api.post("/namespaces/persist-me/projects", json={"name": "p1"}).status_code == 201
    issued = api.post("/tokens", json={"name": "kept"})
    assert issued.status_code == 201
    secret = issued.json()["secret"]

    assert server.stop() == 0
    server.start()

    again = API(server.url, secret)
    assert again.get("/namespaces/persist-me").status_code == 200
    names = [item["name"] for item in again.get("/namespaces/persist-me/projects").json()["items"]]
    assert names == ["p1"]
    assert again.get("/me").json()["username"] == "admin"
    # The first start's password still signs in; a restart creates no second admin.
    users = again.get("/users").json()["items"]
    assert [user["username"] for user in users] == ["admin"]
    from conftest import login_token
    assert login_token(server.url, "admin", server.admin_password)
