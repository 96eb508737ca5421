# Shared by scripts/run and scripts/test: install what is missing, say what happens.
# Sourced, not executed.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages the build needs on a fresh machine (a C toolchain for crates with C
# parts, pkg-config to find system libraries).
BUILD_PACKAGES=(build-essential pkg-config ca-certificates curl)

# apt_install PKG...: installs the packages that are not installed yet. Needs root; on
# a developer's own machine without root it says what is missing instead.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "please install: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})"
    return 1
  fi
  say "installing ${missing[*]}"
  if [ -z "${IMAGEVAULT_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    export IMAGEVAULT_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ensure_rust: finds cargo (rustup installs it in ~/.cargo/bin).
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    say "cargo not found: install Rust 1.95 or newer with rustup (https://rustup.rs)"
    return 1
  fi
}
