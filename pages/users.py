"""Users & roles (admins): list accounts, create one, change role/department/team/active, reset a password, link SSO."""

from __future__ import annotations

import streamlit as st

from cx import accounts
from cx.access import DEPARTMENTS, Role
from cx.auth import AccountSpec
from cx.db import transaction
from cx.errors import CxError
from ui.guard import page_context
from ui.i18n import t

ctx = page_context("users")
principal = ctx.principal
st.title(t("nav.users"))


def _show_error(exc: CxError) -> None:
    st.error(t("users.error"), icon=":material/error:")
    st.text(str(exc))


def _role_label(role: Role) -> str:
    return t(f"role.{role.value}")


def _department_label(department: str) -> str:
    return t(f"dept.{department}") if department else t("users.none")


tab_list, tab_create = st.tabs([t("users.tab.list"), t("users.tab.create")])

with tab_list:
    left, right = st.columns([2, 1])
    search = left.text_input(t("users.search"), key="users_search", placeholder=t("users.search_hint"))
    role_filter = right.selectbox(
        t("users.role"),
        [None, *Role],
        format_func=lambda r: t("users.all_roles") if r is None else _role_label(r),
        key="users_role_filter",
    )
    with transaction(ctx.engine) as session:
        rows = accounts.list_users(session, principal, search=search, role=role_filter)
    if not rows:
        st.info(t("users.empty"), icon=":material/person_search:")
    else:
        st.dataframe(
            [
                {
                    t("users.col.username"): r.username,
                    t("users.col.display_name"): r.display_name,
                    t("users.col.role"): _role_label(r.role),
                    t("users.col.department"): _department_label(r.department or ""),
                    t("users.col.team"): r.team or "",
                    t("users.col.active"): r.is_active,
                    t("users.col.sso"): r.sso_linked,
                    t("users.col.demo"): r.is_demo,
                }
                for r in rows
            ],
            hide_index=True,
            width="stretch",
        )
        st.subheader(t("users.edit_title"))
        by_id = {r.id: r for r in rows}
        chosen = st.selectbox(
            t("users.pick"),
            list(by_id),
            format_func=lambda i: f"{by_id[i].username} · {by_id[i].display_name}",
            key="users_pick",
        )
        user = by_id[chosen]
        with st.form(f"users_edit_{user.id}"):
            display_name = st.text_input(
                t("users.display_name"), value=user.display_name, key=f"users_display_{user.id}"
            )
            c1, c2, c3 = st.columns(3)
            role = c1.selectbox(
                t("users.role"),
                list(Role),
                index=list(Role).index(user.role),
                format_func=_role_label,
                key=f"users_role_{user.id}",
            )
            department_options = ["", *DEPARTMENTS]
            department = c2.selectbox(
                t("users.department"),
                department_options,
                index=department_options.index(user.department or ""),
                format_func=_department_label,
                key=f"users_department_{user.id}",
            )
            team = c3.text_input(t("users.team"), value=user.team or "", key=f"users_team_{user.id}")
            c4, c5 = st.columns(2)
            email = c4.text_input(t("users.email"), value=user.email or "", key=f"users_email_{user.id}")
            phone = c5.text_input(t("users.phone"), value=user.phone or "", key=f"users_phone_{user.id}")
            sso = st.text_input(
                t("users.sso_identity"),
                value=user.oidc_subject or "",
                help=t("users.sso_help"),
                key=f"users_sso_{user.id}",
            )
            active = st.checkbox(
                t("users.active"), value=user.is_active, help=t("users.active_help"), key=f"users_active_{user.id}"
            )
            saved = st.form_submit_button(t("users.save"), type="primary")
        if saved:
            spec = AccountSpec(user.username, display_name, role, department or None, team, email, phone)
            try:
                with transaction(ctx.engine) as session:
                    accounts.update_account(session, principal, user.id, spec, is_active=active)
                    accounts.link_sso(session, principal, user.id, sso)
            except CxError as exc:
                _show_error(exc)
            else:
                st.success(t("users.saved"), icon=":material/check_circle:")
        with st.form(f"users_password_{user.id}"):
            st.markdown(f"**{t('users.reset_title')}**")
            generate = st.checkbox(t("users.generate_password"), value=True, key=f"users_generate_{user.id}")
            new_password = st.text_input(t("users.new_password"), type="password", key=f"users_new_pw_{user.id}")
            reset = st.form_submit_button(t("users.reset"))
        if reset:
            password = accounts.generate_password() if generate else new_password
            try:
                with transaction(ctx.engine) as session:
                    accounts.reset_password(session, principal, user.id, password)
            except CxError as exc:
                _show_error(exc)
            else:
                st.success(t("users.password_reset"), icon=":material/key:")
                if generate:
                    st.caption(t("users.password_once"))
                    st.code(password, language=None)

with tab_create, st.form("users_create", clear_on_submit=False):
    c1, c2 = st.columns(2)
    username = c1.text_input(t("users.username"), key="users_new_username")
    display_name = c2.text_input(t("users.display_name"), key="users_new_display")
    c3, c4, c5 = st.columns(3)
    role = c3.selectbox(t("users.role"), list(Role), format_func=_role_label, key="users_new_role")
    department = c4.selectbox(
        t("users.department"), ["", *DEPARTMENTS], format_func=_department_label, key="users_new_department"
    )
    team = c5.text_input(t("users.team"), key="users_new_team")
    c6, c7 = st.columns(2)
    email = c6.text_input(t("users.email"), key="users_new_email", help=t("users.email_help"))
    phone = c7.text_input(t("users.phone"), key="users_new_phone")
    mode = st.radio(
        t("users.password_mode"),
        ["generate", "set", "sso"],
        format_func=lambda m: t(f"users.password_mode.{m}"),
        horizontal=True,
        key="users_new_mode",
    )
    password = st.text_input(t("users.password"), type="password", key="users_new_password")
    created = st.form_submit_button(t("users.create"), type="primary")
if created:
    initial = accounts.generate_password() if mode == "generate" else (password if mode == "set" else None)
    spec = AccountSpec(username, display_name, role, department or None, team, email, phone)
    try:
        with transaction(ctx.engine) as session:
            accounts.create_account(session, principal, spec, initial)
    except CxError as exc:
        with tab_create:
            _show_error(exc)
    else:
        with tab_create:
            st.success(t("users.created"), icon=":material/person_add:")
            if mode == "generate":
                st.caption(t("users.password_once"))
                st.code(initial, language=None)
