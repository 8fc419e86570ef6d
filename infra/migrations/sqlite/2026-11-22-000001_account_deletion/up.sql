-- Account deletion (issue #3): a worker who holds no membership may delete their account. The
-- row stays (applications and ended memberships refer to it) but loses its WeChat identity and
-- phone; `deleted_at` says when. The same WeChat user logging in later gets a new account.
ALTER TABLE workers ADD COLUMN deleted_at TIMESTAMP;
