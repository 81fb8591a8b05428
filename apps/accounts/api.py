from ninja import Router

auth_router = Router(tags=["auth"])
rbac_router = Router(tags=["rbac"])
