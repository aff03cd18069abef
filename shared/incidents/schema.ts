/**
 * Declared incidents: what an operator says happened, kept as `incidents.json`
 * in the artifacts bucket and replaced whole by `PUT /incidents`. One zod
 * definition, exported for clients and used by the server, the local seeding
 * and the reader of the stored file alike.
 */
import * as z from '../zod.js';

const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;

const INCIDENT_LIMITS = {
  items: 1000,
  idLength: 100,
  titleLength: 200,
  descriptionLength: 2000,
  endpoints: 50,
  endpointLength: 100,
} as const;

/** Ids of detected incidents start with this; declared ones may not, so the two never collide. */
const DETECTED_ID_PREFIX = 'detected:';

const epochMs = z
  .number({ error: 'must be epoch milliseconds' })
  .check(
    z.int('must be whole epoch milliseconds'),
    z.gte(0, 'must be epoch milliseconds'),
    z.lte(8.64e15, 'must be epoch milliseconds'),
  );

const text = (min: number, max: number) =>
  z
    .string({ error: 'must be a string' })
    .check(
      z.trim(),
      z.minLength(min, 'must not be empty'),
      z.maxLength(max, `must be at most ${max} characters`),
    );

const declaredIncidentSchema = z.pipe(
  z
    .strictObject({
      id: text(1, INCIDENT_LIMITS.idLength).check(
        z.refine(
          (id) => !id.startsWith(DETECTED_ID_PREFIX),
          `must not start with "${DETECTED_ID_PREFIX}" (reserved for detected incidents)`,
        ),
      ),
      /** Epoch ms UTC. */
      start: epochMs,
      /** Epoch ms UTC; null or absent: still ongoing. */
      end: z.optional(z.nullable(epochMs)),
      severity: z.enum(INCIDENT_SEVERITIES, { error: `must be one of ${INCIDENT_SEVERITIES.join(', ')}` }),
      title: text(1, INCIDENT_LIMITS.titleLength),
      description: z.optional(text(0, INCIDENT_LIMITS.descriptionLength)),
      /** Endpoints (probe keys such as `chat`) affected; absent: all of them. */
      endpoints: z.optional(
        z
          .array(text(1, INCIDENT_LIMITS.endpointLength))
          .check(z.maxLength(INCIDENT_LIMITS.endpoints, `at most ${INCIDENT_LIMITS.endpoints} endpoints`)),
      ),
      /** Accepted so that items read from `GET /incidents` can be sent back as they are; not stored. */
      kind: z.optional(z.literal('declared', { error: 'must be "declared" when given' })),
    })
    .check(
      z.superRefine((incident, ctx) => {
        if (incident.end !== undefined && incident.end !== null && incident.end < incident.start) {
          ctx.addIssue({ code: 'custom', path: ['end'], message: 'must not be before start' });
        }
      }),
    ),
  z.transform(({ kind: _kind, ...incident }) => incident),
);

export const declaredIncidentsSchema = z
  .array(declaredIncidentSchema, { error: 'must be a JSON array of incidents' })
  .check(
    z.maxLength(INCIDENT_LIMITS.items, `at most ${INCIDENT_LIMITS.items} incidents`),
    z.superRefine((incidents, ctx) => {
      const seen = new Map<string, number>();
      incidents.forEach((incident, index) => {
        const first = seen.get(incident.id);
        if (first === undefined) seen.set(incident.id, index);
        else ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicates the id at ${first}` });
      });
    }),
  );

export type DeclaredIncident = z.output<typeof declaredIncidentSchema>;
