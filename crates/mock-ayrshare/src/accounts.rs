//! User Profiles as Ayrshare manages them: profiles created with `POST /api/profiles`, the social
//! accounts linked to each profile, and the faults set on them.
//!
//! A profile created with `POST /api/profiles` starts with nothing linked, as at Ayrshare. Any
//! other `Profile-Key` (the mock accepts every key) and the Primary Profile start with every
//! network linked to a demo account, so that posting works without any setup.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SubsecRound, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use super::faults::{self, Fault, Faults};
use super::platforms::Platform;
use super::post::format_time;
use super::profile::Profile;
use super::reply::ApiError;
use super::store::MAX_PROFILE_SETTINGS;

/// Ayrshare's code for a profile title that is already taken.
pub(super) const CODE_TITLE_TAKEN: u32 = 146;

/// The longest profile title accepted, in bytes.
pub(super) const MAX_TITLE_LEN: usize = 200;

/// A social account linked to a profile (a demo account: nothing exists on the network).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Account {
    pub(super) platform: Platform,
    pub(super) username: String,
    pub(super) display_name: String,
    pub(super) id: String,
    pub(super) created: DateTime<Utc>,
}

impl Account {
    /// The demo account `profile` has on `platform`, linked at `created`.
    pub(super) fn demo(profile: &Profile, platform: Platform, created: DateTime<Utc>) -> Account {
        let ref_id = profile.ref_id();
        let tag = &ref_id[..6];
        let number = u64::from_str_radix(&ref_id[16..28], 16).unwrap_or(1) % 1_000_000_000_000;
        Account {
            platform,
            username: format!("mock_{}_{tag}", platform.name()),
            display_name: format!("Mock {} {tag}", platform.display_name()),
            id: format!("{}{number:012}", 1 + platform as u64),
            created,
        }
    }

    /// The `displayNames` item of `GET /api/user`.
    pub(super) fn to_json(&self) -> Value {
        json!({
            "platform": self.platform.name(),
            "username": self.username,
            "displayName": self.display_name,
            "profileUrl": profile_url(self.platform, &self.username),
            // Under the reserved .invalid domain: nothing is ever fetched from it.
            "userImage": format!("https://avatars.mock-ayrshare.invalid/{}.png", self.username),
            "created": format_time(self.created),
            "id": self.id,
        })
    }
}

fn profile_url(platform: Platform, username: &str) -> String {
    match platform {
        Platform::Twitter => format!("https://twitter.com/{username}"),
        Platform::Facebook => format!("https://www.facebook.com/{username}"),
        Platform::Instagram => format!("https://www.instagram.com/{username}"),
        Platform::Linkedin => format!("https://www.linkedin.com/in/{username}"),
        Platform::Tiktok => format!("https://www.tiktok.com/@{username}"),
        Platform::Youtube => format!("https://www.youtube.com/@{username}"),
        Platform::Pinterest => format!("https://www.pinterest.com/{username}"),
        Platform::Reddit => format!("https://www.reddit.com/user/{username}"),
        Platform::Telegram => format!("https://t.me/{username}"),
        Platform::Gmb => format!("https://business.google.com/{username}"),
        Platform::Bluesky => format!("https://bsky.app/profile/{username}.bsky.social"),
        Platform::Snapchat => format!("https://www.snapchat.com/add/{username}"),
        Platform::Threads => format!("https://www.threads.net/@{username}"),
    }
}

/// A profile created with `POST /api/profiles`.
#[derive(Clone, Debug)]
struct Registered {
    title: String,
    created: DateTime<Utc>,
    seq: u64,
}

/// Whether a social event links or unlinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change {
    Link,
    Unlink,
}

/// Who caused a social event: the user (linking page, `DELETE /api/profiles/social`) or
/// Ayrshare itself (a token it dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    User,
    System,
}

/// A link or unlink, for the `social` webhook.
#[derive(Clone, Debug)]
pub(super) struct SocialEvent {
    pub(super) profile: Profile,
    pub(super) account: Account,
    pub(super) change: Change,
    pub(super) source: Source,
    pub(super) at: DateTime<Utc>,
}

/// Profiles, their linked accounts and their faults.
pub(super) struct Accounts {
    registered: HashMap<Profile, Registered>,
    titles: HashMap<String, Profile>,
    /// The accounts of profiles whose links differ from their start (see the module docs).
    linked: HashMap<Profile, BTreeMap<Platform, Account>>,
    faults: HashMap<Profile, Faults>,
    next_seq: u64,
    /// When the mock started: the `created` of the accounts every profile starts with.
    started: DateTime<Utc>,
}

impl Accounts {
    pub(super) fn new(started: DateTime<Utc>) -> Accounts {
        Accounts {
            registered: HashMap::new(),
            titles: HashMap::new(),
            linked: HashMap::new(),
            faults: HashMap::new(),
            next_seq: 0,
            started: started.trunc_subsecs(0),
        }
    }

    /// Creates a profile titled `title`: its new key (shown once) and its `refId`.
    pub(super) fn register(
        &mut self,
        title: &str,
        now: DateTime<Utc>,
        rng: &mut impl Rng,
    ) -> Result<Profile, ApiError> {
        if self.titles.contains_key(title) {
            return Err(ApiError::refused(
                "create",
                CODE_TITLE_TAKEN,
                format!(
                    "Profile title already exists: a profile titled {title:?} exists. Titles must be unique."
                ),
            ));
        }
        if self.registered.len() >= MAX_PROFILE_SETTINGS {
            return Err(ApiError::mock(format!(
                "too many profiles (at most {MAX_PROFILE_SETTINGS}): reset the mock with POST /mock/reset"
            )));
        }
        let profile = loop {
            let key = profile_key(rng);
            let profile = Profile::keyed(&key);
            if !self.registered.contains_key(&profile) {
                break profile;
            }
        };
        self.next_seq += 1;
        self.registered.insert(
            profile.clone(),
            Registered {
                title: title.to_owned(),
                created: now.trunc_subsecs(0),
                seq: self.next_seq,
            },
        );
        self.titles.insert(title.to_owned(), profile.clone());
        // Nothing is linked to a new profile.
        self.linked.insert(profile.clone(), BTreeMap::new());
        Ok(profile)
    }

    /// The title `POST /api/profiles` gave `profile`, if it was created that way.
    pub(super) fn registered_title(&self, profile: &Profile) -> Option<&str> {
        self.registered.get(profile).map(|r| r.title.as_str())
    }

    /// The accounts linked to `profile`, in Ayrshare's platform order.
    pub(super) fn accounts(&self, profile: &Profile) -> Vec<Account> {
        match self.linked.get(profile) {
            Some(accounts) => accounts.values().cloned().collect(),
            None => Platform::ALL
                .iter()
                .map(|&platform| Account::demo(profile, platform, self.started))
                .collect(),
        }
    }

    /// The accounts that count as active: linked and not faulted `not_linked`.
    pub(super) fn active(&self, profile: &Profile) -> Vec<Account> {
        let faults = self.faults(profile);
        self.accounts(profile)
            .into_iter()
            .filter(|account| faults::fault_of(&faults, account.platform) != Some(Fault::NotLinked))
            .collect()
    }

    /// What stops `platform` for `profile`: its fault, else `not_linked` when nothing is linked.
    pub(super) fn block(&self, profile: &Profile, platform: Platform) -> Option<Fault> {
        if let Some(fault) = self
            .faults
            .get(profile)
            .and_then(|f| faults::fault_of(f, platform))
        {
            return Some(fault);
        }
        let linked = match self.linked.get(profile) {
            Some(accounts) => accounts.contains_key(&platform),
            None => true,
        };
        (!linked).then_some(Fault::NotLinked)
    }

    /// The accounts of `profile` as stored, made explicit so that they can change.
    fn explicit(
        &mut self,
        profile: &Profile,
    ) -> Result<&mut BTreeMap<Platform, Account>, ApiError> {
        if !self.linked.contains_key(profile) {
            if self.linked.len() >= MAX_PROFILE_SETTINGS {
                return Err(ApiError::mock(format!(
                    "too many profiles with changed links (at most {MAX_PROFILE_SETTINGS}): reset the mock with POST /mock/reset"
                )));
            }
            let accounts = self
                .accounts(profile)
                .into_iter()
                .map(|account| (account.platform, account))
                .collect();
            self.linked.insert(profile.clone(), accounts);
        }
        Ok(self.linked.get_mut(profile).expect("inserted above"))
    }

    /// Links a demo account on `platform` (replacing any), as the linking page does.
    pub(super) fn link(
        &mut self,
        profile: &Profile,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> Result<Account, ApiError> {
        let account = Account::demo(profile, platform, now.trunc_subsecs(0));
        self.explicit(profile)?.insert(platform, account.clone());
        Ok(account)
    }

    /// Unlinks `platform`: the account that was linked, if any.
    pub(super) fn unlink(
        &mut self,
        profile: &Profile,
        platform: Platform,
    ) -> Result<Option<Account>, ApiError> {
        Ok(self.explicit(profile)?.remove(&platform))
    }

    pub(super) fn faults(&self, profile: &Profile) -> Faults {
        self.faults.get(profile).cloned().unwrap_or_default()
    }

    /// Sets (`Some`) or clears (`None`) the fault of `target` (a platform name or `all`).
    pub(super) fn set_fault(
        &mut self,
        profile: &Profile,
        target: &'static str,
        fault: Option<Fault>,
    ) -> Result<(), ApiError> {
        match fault {
            Some(fault) => {
                if !self.faults.contains_key(profile) && self.faults.len() >= MAX_PROFILE_SETTINGS {
                    return Err(ApiError::mock(format!(
                        "too many profiles with faults (at most {MAX_PROFILE_SETTINGS}): clear some"
                    )));
                }
                self.faults
                    .entry(profile.clone())
                    .or_default()
                    .insert(target, fault);
            }
            None => {
                if let Some(faults) = self.faults.get_mut(profile) {
                    faults.remove(target);
                    if faults.is_empty() {
                        self.faults.remove(profile);
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the whole profile is suspended (the fault `suspended` on `all`).
    pub(super) fn suspended(&self, profile: &Profile) -> bool {
        self.faults
            .get(profile)
            .and_then(|faults| faults.get(faults::ALL))
            == Some(&Fault::Suspended)
    }

    /// Forgets everything about `profile`: its creation (its title is free again), its links
    /// and its faults.
    pub(super) fn forget(&mut self, profile: &Profile) {
        if let Some(registered) = self.registered.remove(profile) {
            self.titles.remove(&registered.title);
        }
        self.linked.remove(profile);
        self.faults.remove(profile);
    }

    /// `GET /api/profiles`: created profiles, oldest first, filtered by exact `title` and
    /// `ref_id`, `limit` of them after `cursor`.
    pub(super) fn list(
        &self,
        title: Option<&str>,
        ref_id: Option<&str>,
        limit: usize,
        cursor: Option<u64>,
    ) -> Value {
        let mut matching: Vec<(&Profile, &Registered)> = self
            .registered
            .iter()
            .filter(|(_, r)| title.is_none_or(|title| r.title == title))
            .filter(|(profile, _)| ref_id.is_none_or(|ref_id| profile.ref_id() == ref_id))
            .collect();
        matching.sort_by_key(|(_, r)| r.seq);
        let count = matching.len();
        let after: Vec<_> = matching
            .into_iter()
            .filter(|(_, r)| cursor.is_none_or(|cursor| r.seq >= cursor))
            .collect();
        let page: Vec<Value> = after
            .iter()
            .take(limit)
            .map(|(profile, registered)| {
                let active: Vec<&str> = self
                    .active(profile)
                    .iter()
                    .map(|account| account.platform.name())
                    .collect();
                json!({
                    "status": if self.suspended(profile) { "suspended" } else { "active" },
                    "title": registered.title,
                    "refId": profile.ref_id(),
                    "createdUTC": format_time(registered.created),
                    "activeSocialAccounts": active,
                })
            })
            .collect();
        let next = after.get(limit).map(|(_, r)| r.seq.to_string());
        json!({
            "profiles": page,
            "count": count,
            "pagination": {"hasMore": next.is_some(), "nextCursor": next, "limit": limit},
        })
    }
}

/// A new profile key, shaped like Ayrshare's (four groups of seven characters).
fn profile_key(rng: &mut impl Rng) -> String {
    (0..4)
        .map(|_| {
            (0..7)
                .map(|_| char::from(rng.sample(Alphanumeric)).to_ascii_uppercase())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}
