import type { Knex } from 'knex';

/**
 * The purpose catalogue as data (issue 5). Every replacement is a new row; rows are never
 * changed, so any decision's audit event can be read back against the version it names.
 * Version 1 is the default catalogue of DESIGN.md ("Purposes"), written out here because a
 * migration stands alone.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('policy_versions', (table) => {
    table.integer('version').primary();
    table.jsonb('document').notNullable();
    table.text('created_by').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('alter table policy_versions add constraint policy_versions_version_check check (version >= 1)');
  await knex('policy_versions').insert({ version: 1, document: JSON.stringify(DEFAULT_POLICY), created_by: 'migration' });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('policy_versions');
}

const plain = 'plain';
const masked = 'masked';
const mail = { email: plain, name: plain };
const subscribed = (category: string) => [{ type: 'subscribed', category }];

const DEFAULT_POLICY = {
  purposes: {
    account_management: {
      description: 'The account service: creates, updates and erases subjects, records preferences.',
      fields: { email: plain, name: plain, phone: plain, postal_address: plain, birth_date: plain, payment_method: masked },
    },
    billing: {
      description: 'Lists payment-method tokens with masked card data.',
      fields: { name: plain, postal_address: plain, payment_method: masked },
    },
    payment_processing: {
      description: 'The payment processor: the full card, to charge it.',
      fields: { name: plain, postal_address: plain, payment_method: plain },
    },
    transactional_email: {
      description: 'Account-transaction messages; cannot be unsubscribed.',
      fields: mail,
    },
    newsletter: { description: 'Newsletters, to subscribers.', fields: mail, conditions: subscribed('newsletter') },
    promotions: { description: 'Promotions, to subscribers.', fields: mail, conditions: subscribed('promotions') },
    surveys: { description: 'Surveys, to subscribers.', fields: mail, conditions: subscribed('surveys') },
    partner_offers: {
      description: 'Offers we send on behalf of a partner, to subscribers.',
      fields: mail,
      conditions: subscribed('partner_offers'),
    },
    joint_promotion: {
      description: 'Data shared with a partner: only with the subject\'s opt-in.',
      fields: { email: plain, name: plain, postal_address: plain },
      conditions: [{ type: 'sharing_consent' }],
    },
    shipping: { description: 'Postal delivery.', fields: { name: plain, postal_address: plain } },
    debt_collection: {
      description: 'The debt collector.',
      fields: { email: plain, name: plain, phone: plain, postal_address: plain, payment_method: masked },
    },
    customer_support: {
      description: 'Support agents: enough to recognise the customer.',
      fields: { email: masked, name: plain, phone: masked, postal_address: masked, payment_method: masked },
    },
    analytics: {
      description: 'Aggregate use: pseudonymous ids and the country, nothing personal.',
      fields: { country: plain },
      subject_reference: 'pseudonym',
    },
    legal_disclosure: {
      description: 'Disclosure required by law: break-glass, approved by a second administrator.',
      fields: { email: plain, name: plain, phone: plain, postal_address: plain, birth_date: plain, payment_method: plain },
      conditions: [{ type: 'approval' }],
    },
  },
};
