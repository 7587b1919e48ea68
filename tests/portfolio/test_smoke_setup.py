def test_two_tenants_exist(tenant_a, tenant_b, outsider):
    assert tenant_a.org.slug == "org-a"
    assert tenant_b.org.slug == "org-b"
