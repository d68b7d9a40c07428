/* relais' listening port: what a caller sends, looked at in pjmedia's clock thread (SPEC S4, S5,
 * S11). Bound from Python by switch/tap.py; built against the pjproject headers of relais' own
 * build by scripts/build-pjproject.sh and shipped in its pjsua2 wheel (librelais_tap.so).
 *
 * Rules of this file:
 * - One tap per answered call, added to the conference bridge as a sink port of the call's audio.
 *   Each 20 ms frame the bridge hands it is looked at at once: spandsp's DTMF receiver (in-band
 *   keys), the frame's power for the voice-activity detector that ends a recording on silence,
 *   and the CNG / CED detector of a calling fax. The numbers are those of media/analysis.py
 *   (VoiceActivity, FaxToneDetector): the same settings, the same DFT matrix, the same order of
 *   the steps, frame by frame; tests/integration/test_switch_tap.py holds them side by side.
 * - Nothing is written to disk and no Python runs per frame: a key or a calling fax tone is
 *   queued in the tap, and the tap's id is written once to the notification pipe (4 bytes,
 *   atomic) until Python takes the tap's events (tap_take). The last frame with voice is kept as
 *   a CLOCK_MONOTONIC time, read by the silence timer on the pump thread.
 * - Audio nothing looks for (in-band off, no silence armed, no fax tone awaited) is not looked at.
 * - A mutex guards each tap between the clock thread and Python; no call back into Python,
 *   pjsua or pjmedia is made under it.
 * - The bridge holds a reference to the port (its group lock) until it has processed the port's
 *   removal in the clock thread; switch/tap.py drops its own with pjmedia_port_destroy. The tap
 *   is freed by on_destroy when the last one goes, on whichever thread that is.
 * - spandsp is linked by its soname (libspandsp.so.2, Debian libspandsp2); its five DTMF receive
 *   functions are declared here with the ABI media/spandsp.py binds.
 */

#include <pjmedia/port.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void (*digits_rx_callback_t)(void *user_data, const char *digits, int len);
extern void *dtmf_rx_init(void *s, digits_rx_callback_t callback, void *user_data);
extern void dtmf_rx_parms(void *s, int filter_dialtone, int twist, int reverse_twist,
                          int threshold);
extern int dtmf_rx(void *s, const int16_t amp[], int samples);
extern int dtmf_rx_free(void *s);

#define FRAME 160         /* 20 ms at 8 kHz: media/analysis.py FRAME and FAX_BLOCK */
#define TONES 2           /* CNG (1100 Hz), CED (2100 Hz) */
#define KEYS_MAX 64
#define SIGNATURE PJMEDIA_SIGNATURE('R', 'L', 'T', 'P')

enum { EVENT_KEYS = 1, EVENT_CNG = 2 };

/* The settings media/analysis.py's detectors use, handed over once per tap. */
typedef struct tap_settings {
    double vad_min_dbfs;
    double vad_margin_db;
    double vad_floor_rise_db;
    double vad_initial_floor_dbfs;
    double vad_power_floor; /* the mean power of a frame at SILENCE_DBFS */
    double fax_floor_scale; /* a tone's |X(f)|^2 must reach this ... */
    double fax_share_scale; /* ... and this times the block's mean power */
    double fax_block_s;
    double fax_ced_min_s;
    int fax_dropout;        /* blocks */
    int fax_on_lo, fax_on_hi, fax_off_lo, fax_off_hi;
    int fax_cng_bursts;
} tap_settings;

typedef struct relais_tap {
    pjmedia_port base; /* first: pjmedia sees a pjmedia_port */
    pthread_mutex_t lock;
    int id;
    int notify_fd;
    int notified;
    tap_settings s;
    double matrix[FRAME][2 * TONES]; /* per sample: cos and sin of each tone (media/analysis.py) */

    void *dtmf;
    int inband;
    char keys[KEYS_MAX];
    int nkeys;

    int vad_armed;
    double floor;
    double last_voice; /* CLOCK_MONOTONIC seconds */
    uint64_t voiced;   /* frames with voice since armed (tests) */

    int fax_on;        /* a calling fax tone is awaited */
    int fax_detected;  /* 0, 1 CNG, 2 CED: the detector then stops */
    int fax_reported;
    int cng_on, cng_gap, cng_off, bursts, ced_on, ced_gap;

    int16_t pending[FRAME]; /* a frame's first samples when the bridge hands part of one */
    int npending;
    uint64_t frames;
} relais_tap;

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void notify(relais_tap *t)
{
    if (t->notified || t->notify_fd < 0)
        return;
    int32_t id = t->id;
    if (write(t->notify_fd, &id, sizeof id) == (ssize_t)sizeof id)
        t->notified = 1; /* a full pipe: the next event tries again */
}

static void on_digits(void *user_data, const char *digits, int len)
{
    relais_tap *t = (relais_tap *)user_data;
    for (int i = 0; i < len && t->nkeys < KEYS_MAX; i++)
        t->keys[t->nkeys++] = digits[i];
    if (len > 0)
        notify(t); /* keys and a fax tone share the one notification */
}

/* FaxToneDetector._cng_step */
static int cng_step(relais_tap *t, int on)
{
    if (on) {
        if (t->cng_on == 0 && t->bursts &&
            !(t->s.fax_off_lo <= t->cng_off && t->cng_off <= t->s.fax_off_hi))
            t->bursts = 0;
        t->cng_on += 1 + t->cng_gap;
        t->cng_gap = 0;
        t->cng_off = 0;
        if (t->cng_on > t->s.fax_on_hi)
            t->bursts = 0;
        return 0;
    }
    if (t->cng_on) {
        t->cng_gap += 1;
        if (t->cng_gap <= t->s.fax_dropout)
            return 0;
        int burst_ok = t->s.fax_on_lo <= t->cng_on && t->cng_on <= t->s.fax_on_hi;
        t->bursts = burst_ok ? t->bursts + 1 : 0;
        t->cng_off = t->cng_gap;
        t->cng_on = 0;
        t->cng_gap = 0;
        return t->bursts >= t->s.fax_cng_bursts;
    }
    t->cng_off += 1;
    if (t->cng_off > t->s.fax_off_hi)
        t->bursts = 0;
    return 0;
}

/* FaxToneDetector._ced_step */
static int ced_step(relais_tap *t, int on)
{
    if (on) {
        t->ced_on += 1 + t->ced_gap;
        t->ced_gap = 0;
    } else if (t->ced_on) {
        t->ced_gap += 1;
        if (t->ced_gap > t->s.fax_dropout) {
            t->ced_on = 0;
            t->ced_gap = 0;
        }
    }
    return t->ced_on * t->s.fax_block_s >= t->s.fax_ced_min_s;
}

static void look_at_frame(relais_tap *t, const int16_t *x)
{
    double power = 0.0;
    double parts[2 * TONES] = {0.0};
    int fax = t->fax_on && !t->fax_detected;
    for (int n = 0; n < FRAME; n++) {
        double v = x[n] / 32768.0;
        power += v * v;
        if (fax)
            for (int k = 0; k < 2 * TONES; k++)
                parts[k] += v * t->matrix[n][k];
    }
    power /= FRAME;
    t->frames++;
    if (t->vad_armed) { /* VoiceActivity.feed_power */
        double level = 10.0 * log10(power > t->s.vad_power_floor ? power : t->s.vad_power_floor);
        int active = level >= t->s.vad_min_dbfs && level >= t->floor + t->s.vad_margin_db;
        if (level < t->floor)
            t->floor = level;
        else
            t->floor = fmin(level, t->floor + t->s.vad_floor_rise_db);
        if (active) {
            t->last_voice = monotonic();
            t->voiced++;
        }
    }
    if (fax) { /* FaxToneDetector._classify, then its steps */
        double need = fmax(power * t->s.fax_share_scale, t->s.fax_floor_scale);
        double cng = parts[0] * parts[0] + parts[1] * parts[1];
        double ced = parts[2] * parts[2] + parts[3] * parts[3];
        int kind = cng >= need ? 1 : (ced >= need ? 2 : 0);
        if (cng_step(t, kind == 1)) {
            t->fax_detected = 1;
            notify(t);
        } else if (ced_step(t, kind == 2)) {
            t->fax_detected = 2;
        }
    }
}

/* Feed audio (the clock thread for a call; tests directly). */
void tap_feed(relais_tap *t, const int16_t *samples, int count)
{
    pthread_mutex_lock(&t->lock);
    int keys = t->inband && t->dtmf != NULL;
    int frames = t->vad_armed || (t->fax_on && !t->fax_detected);
    if (!keys && !frames) {
        t->npending = 0;
        pthread_mutex_unlock(&t->lock);
        return;
    }
    if (keys && count > 0)
        dtmf_rx(t->dtmf, samples, count);
    if (frames) {
        int i = 0;
        if (t->npending) {
            int take = FRAME - t->npending < count ? FRAME - t->npending : count;
            memcpy(t->pending + t->npending, samples, (size_t)take * sizeof(int16_t));
            t->npending += take;
            i = take;
            if (t->npending == FRAME) {
                look_at_frame(t, t->pending);
                t->npending = 0;
            }
        }
        for (; i + FRAME <= count; i += FRAME)
            look_at_frame(t, samples + i);
        if (i < count) {
            memcpy(t->pending, samples + i, (size_t)(count - i) * sizeof(int16_t));
            t->npending = count - i;
        }
    } else {
        t->npending = 0;
    }
    pthread_mutex_unlock(&t->lock);
}

static pj_status_t tap_put_frame(pjmedia_port *port, pjmedia_frame *frame)
{
    if (frame->type == PJMEDIA_FRAME_TYPE_AUDIO && frame->size >= sizeof(int16_t))
        tap_feed((relais_tap *)port, (const int16_t *)frame->buf,
                 (int)(frame->size / sizeof(int16_t)));
    return PJ_SUCCESS;
}

static pj_status_t tap_on_destroy(pjmedia_port *port)
{
    relais_tap *t = (relais_tap *)port;
    dtmf_rx_free(t->dtmf);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return PJ_SUCCESS;
}

static pj_status_t tap_get_frame(pjmedia_port *port, pjmedia_frame *frame)
{
    (void)port;
    frame->type = PJMEDIA_FRAME_TYPE_NONE;
    frame->size = 0;
    return PJ_SUCCESS;
}

/* A new tap: `matrix` is FRAME rows of the 2 * TONES DFT columns (media/analysis.py
 * _FAX_MATRIX, C order); `fax` says whether a calling fax tone is awaited. NULL: no memory, or
 * no DTMF receiver. */
relais_tap *tap_create(int id, int notify_fd, const tap_settings *settings,
                       const double *matrix, int fax)
{
    relais_tap *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->dtmf = dtmf_rx_init(NULL, on_digits, t);
    if (t->dtmf == NULL) {
        free(t);
        return NULL;
    }
    dtmf_rx_parms(t->dtmf, 0, -1, -1, -99); /* spandsp's defaults, as media/spandsp.py */
    pthread_mutex_init(&t->lock, NULL);
    t->id = id;
    t->notify_fd = notify_fd;
    t->s = *settings;
    memcpy(t->matrix, matrix, sizeof t->matrix);
    t->inband = 1;
    t->fax_on = fax;
    t->floor = settings->vad_initial_floor_dbfs;

    static const char name[] = "relais-tap";
    t->base.info.name.ptr = (char *)name;
    t->base.info.name.slen = sizeof name - 1;
    t->base.info.signature = SIGNATURE;
    t->base.info.dir = PJMEDIA_DIR_ENCODING_DECODING;
    pjmedia_format_init_audio(&t->base.info.fmt, PJMEDIA_FORMAT_L16, 8000, 1, 16, 20000,
                              128000, 128000);
    t->base.put_frame = tap_put_frame;
    t->base.get_frame = tap_get_frame;
    t->base.on_destroy = tap_on_destroy;
    return t;
}

/* In-band key detection off (the call sent an RFC 4733 or SIP INFO key), or on again. */
void tap_set_inband(relais_tap *t, int on)
{
    pthread_mutex_lock(&t->lock);
    t->inband = on;
    pthread_mutex_unlock(&t->lock);
}

/* Voice activity from now on with a fresh noise floor (a recording that ends on silence
 * starts), or off. The last voice starts at `now` (CLOCK_MONOTONIC seconds). */
void tap_arm_silence(relais_tap *t, int on, double now)
{
    pthread_mutex_lock(&t->lock);
    t->vad_armed = on;
    t->floor = t->s.vad_initial_floor_dbfs;
    t->last_voice = now;
    t->voiced = 0;
    pthread_mutex_unlock(&t->lock);
}

/* When voice was last heard since the silence detector was armed (CLOCK_MONOTONIC seconds). */
double tap_last_voice(relais_tap *t)
{
    pthread_mutex_lock(&t->lock);
    double last = t->last_voice;
    pthread_mutex_unlock(&t->lock);
    return last;
}

/* The keys heard since the last take (up to `max`, the rest stays), and in *cng whether a
 * calling fax tone was recognised (said once). The tap may notify again afterwards. */
int tap_take(relais_tap *t, char *keys, int max, int *cng)
{
    pthread_mutex_lock(&t->lock);
    int n = t->nkeys < max ? t->nkeys : max;
    memcpy(keys, t->keys, (size_t)n);
    memmove(t->keys, t->keys + n, (size_t)(t->nkeys - n));
    t->nkeys -= n;
    *cng = t->fax_detected == 1 && !t->fax_reported;
    if (*cng)
        t->fax_reported = 1;
    t->notified = 0;
    if (t->nkeys > 0)
        notify(t);
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* Frames looked at so far, and those with voice since the silence detector was armed (tests). */
uint64_t tap_frames(relais_tap *t, int voiced)
{
    pthread_mutex_lock(&t->lock);
    uint64_t n = voiced ? t->voiced : t->frames;
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t tap_settings_size(void)
{
    return sizeof(tap_settings);
}
