"""The timeline of the case: commits, deployments, the complaint. All times are UTC."""
GIT_NAME, GIT_EMAIL = "Dana Okafor", "dana.okafor@example.com"
FIX_NAME, FIX_EMAIL = "Sam Lindqvist", "sam.lindqvist@example.com"
PLATFORM_NAME, PLATFORM_EMAIL = "Ola Nwosu", "ola.nwosu@example.com"
EMAILS = {GIT_NAME: GIT_EMAIL, FIX_NAME: FIX_EMAIL, PLATFORM_NAME: PLATFORM_EMAIL}
INITIAL_MONTHS = ["2025-10", "2025-11", "2025-12"]
BAD_MONTH = "2026-02"
MAX_LIMIT = 25000.0          # guardrail: maximum credit limit (rule "max-limit-cap")
N_REQUESTS = 1100            # customer requests served online (each: 1 score + 1 limit)

# step key -> (commit date, author, message); see generator/dvcrepo.py for what changes
STEPS = [
    ("a", "2026-01-05T10:00:00Z", GIT_NAME,
     "Initial credit pipeline: prepare, purchase features, scoring, credit limit, evaluate"),
    ("b", "2026-02-03T10:00:00Z", GIT_NAME, "Add 2026-01 transactions"),
    ("c", "2026-02-17T10:00:00Z", GIT_NAME, "Tune credit-limit regularisation (alpha 1.0 -> 0.3)"),
    ("d", "2026-03-02T10:00:00Z", GIT_NAME,
     "Purchase features v2: exclude refunds, add share_essentials"),
    ("e", "2026-03-09T10:00:00Z", GIT_NAME, "Add 2026-02 transactions"),
    ("f", "2026-03-23T10:00:00Z", FIX_NAME,
     "Fix 2026-02 transactions: vendor export was in cents; re-delivered in dollars; "
     "prepare refuses cent-valued months (CR-311)"),
    # ---- later complaints (generator/later.py): a library upgrade, a feature code commit --------
    ("g", "2026-04-13T10:00:00Z", FIX_NAME,
     "Winsorize training limits with creditkit (pin creditkit==1.4.0)"),
    ("h", "2026-04-27T10:00:00Z", PLATFORM_NAME,
     "Platform image 2026.04: upgrade creditkit 1.4.0 -> 1.5.0"),
    ("i", "2026-05-11T10:00:00Z", GIT_NAME,
     "Purchase features v3: purchase totals per household (joint accounts)"),
]
# step -> the creditkit version on the training environment's path (none before g)
CREDITKIT = {"g": "1.4.0", "h": "1.5.0", "i": "1.5.0"}
FORCED = {"h": "train_credit_limit"}   # nothing in the repo changed for it: `dvc repro -f -s`

# production alias moves: (time, model name, version)  -- versions known from the steps:
# credit-scoring: a->1 b->2 d->3 e->4(bad) f->5 ; credit-limit: a->1 b->2 c->3 d->4 e->5(bad) f->6
ALIAS_MOVES = [
    ("2026-01-06T09:00:00Z", "credit-scoring", "1"), ("2026-01-06T09:00:00Z", "credit-limit", "1"),
    ("2026-02-04T09:00:00Z", "credit-scoring", "2"), ("2026-02-04T09:00:00Z", "credit-limit", "2"),
    ("2026-02-18T09:00:00Z", "credit-limit", "3"),
    ("2026-03-03T09:00:00Z", "credit-scoring", "3"), ("2026-03-03T09:00:00Z", "credit-limit", "4"),
    ("2026-03-10T09:00:00Z", "credit-scoring", "4"), ("2026-03-10T09:30:00Z", "credit-limit", "5"),
    # complaint on social media 2026-03-18; rollback the next day
    ("2026-03-19T15:00:00Z", "credit-scoring", "3"), ("2026-03-19T15:00:00Z", "credit-limit", "4"),
    ("2026-03-24T09:00:00Z", "credit-scoring", "5"), ("2026-03-24T09:00:00Z", "credit-limit", "6"),
    # the later complaints: credit-limit g->7 h->8 i->9, credit-scoring i->6
    ("2026-04-14T09:00:00Z", "credit-limit", "7"), ("2026-04-28T09:00:00Z", "credit-limit", "8"),
    ("2026-05-12T09:00:00Z", "credit-scoring", "6"), ("2026-05-12T09:00:00Z", "credit-limit", "9"),
]
SERVING_START, SERVING_END = "2026-01-06T09:00:00Z", "2026-04-10T18:00:00Z"
COMPLAINT_TIME = "2026-03-18T20:12:00Z"
SPOUSE_GOOD_TIME = "2026-03-05T11:20:00Z"   # spouse served by the good versions
SPOUSE_BAD_TIME = "2026-03-12T14:05:00Z"    # spouse served by the bad versions
REVIEW_TIME = "2026-03-25T08:00:00Z"        # batch re-review of customers hit by the bad versions

# ---- the later complaints (after SERVING_END; generator/later.py) ----------------------------------
LATER_START, LATER_END = "2026-04-14T09:00:00Z", "2026-05-22T18:00:00Z"
LATER_PER_DAY = 5            # background requests per weekday while the later stories run
MISFIRE_RULE = "new-customer-cap"          # meant for tenure < 1 year; deployed as tenure < 12
MISFIRE_CAP, MISFIRE_TENURE = 2500.0, 12   # the cap, and the (wrong) tenure bound it fired under
MISFIRE_FROM, MISFIRE_TO = "2026-04-20T09:00:00Z", "2026-04-24T15:00:00Z"
# (before, after) times of each later complaint's two requests
LIBRARY_TIMES = ("2026-04-16T10:05:00Z", "2026-04-29T10:05:00Z")    # credit-limit@7, then @8
OVERRIDE_TIMES = ("2026-04-16T11:10:00Z", "2026-04-22T11:10:00Z")   # before the rule, under it
INPUTS_TIMES = ("2026-04-15T14:00:00Z", "2026-04-15T14:20:00Z")     # two spouses, same versions
CODE_TIMES = ("2026-05-06T10:30:00Z", "2026-05-13T10:30:00Z")       # credit-limit@8, then @9
