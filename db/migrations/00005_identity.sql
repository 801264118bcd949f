-- +goose Up
-- Identity across orgs: sessions (revocable tokens), links from an external
-- identity provider's subjects to users, and invitations to orgs.

-- One row per token Warden has issued: the token's jti names it. Every
-- request with a token reads its row by primary key, so a revoked session is
-- refused at once on every instance, with no cache to wait out.
CREATE TABLE sessions (
    id                text PRIMARY KEY,
    user_id           bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- When the user last proved who they are (password or SSO); a refreshed
    -- session keeps it, so refreshing cannot extend a sign-in forever.
    authenticated_at  timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    revoked_at        timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id, expires_at);

-- An external identity (OpenID Connect issuer and subject) signs in as one
-- user; a user has at most one subject per issuer.
CREATE TABLE user_identities (
    issuer      text NOT NULL,
    subject     text NOT NULL,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject),
    UNIQUE (issuer, user_id)
);

-- An invitation to join an org with a role and profile. Only the hash of its
-- secret token is kept. Role, profile, manager and shift are checked again
-- on acceptance (they may have changed), so they carry no foreign keys that
-- would stand in the way of deleting a role or profile.
CREATE TABLE invitations (
    org_id         bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL,
    role_id        bigint NOT NULL,
    profile_id     bigint NOT NULL,
    reports_to_id  bigint,
    shift_id       bigint,
    time_zone      text,
    token_hash     bytea NOT NULL UNIQUE,
    invited_by     bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    accepted_at    timestamptz,
    accepted_by    bigint,
    revoked_at     timestamptz,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, invited_by) REFERENCES members (org_id, id)
);
CREATE INDEX invitations_org_idx ON invitations (org_id, id DESC);
CREATE INDEX invitations_email_idx ON invitations (org_id, lower(email)) WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- +goose Down
-- Forward only: migrations are never rolled back in production.
SELECT 1;
