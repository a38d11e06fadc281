# frozen_string_literal: true

# Runs Scalelite's OWN rake tasks (lib/tasks/servers.rake, status.rake, poll.rake of the pinned tree) as
# `docker exec [-i] scalelite-api bin/rake TASK...` would, without Rails, PostgreSQL or the container:
#
#   ruby test/support/scalelite/rake.rb 'servers:sync[-,cordon]' poll:all ...
#   ruby test/support/scalelite/rake.rb -e 'puts Server.find_available.id'
#
# with BBB_OVH_SCALELITE_CONFIG naming a JSON file written by harness.ts:
#   { "scaleliteTree": dir, "tabuloTree": dir, "redisUrl": "redis://127.0.0.1:PORT/0",
#     "routes": { "<node host>": "http://127.0.0.1:PORT" }, "dbState": file }
#
# What is Scalelite's own code here: the models (app/models/application_redis_record.rb, server.rb,
# meeting.rb), lib/redis_store.rb, lib/server_sync.rb, the BBB API client (app/controllers/concerns/
# api_helper.rb, bbb_errors.rb) and the three task files, against a real redis-server. So sync, cordon,
# enable, panic, status and the poller's online/offline/load decisions are Scalelite's.
#
# Libraries: Debian's ruby-activesupport/activemodel 6.1 (Scalelite pins Rails 7.2; the models use only
# what 6.1 has), ruby-redis 4.8, ruby-connection-pool, ruby-nokogiri, ruby-concurrent, and Tabulo 2.8.2 (the
# version Scalelite's Gemfile.lock pins; a pinned tree, not packaged by Debian) on Debian's
# unicode-display_width 1.6 and tty-screen (Tabulo asks for 2.2, but only calls `DisplayWidth.of`).
#
# What this file provides instead of Rails, and why:
# - `Rails.logger` / `Rails.configuration.x`: the values config/application.rb derives from the same
#   environment variables and defaults (listed below with their variable); the logger is the one
#   config/environments/production.rb builds with RAILS_LOG_TO_STDOUT=true (Logger::Formatter on stdout,
#   level RAILS_LOG_LEVEL, default debug). No redis namespace: redis-namespace 1.x passes `sadd?` through
#   un-namespaced, so saves would fail (the container uses none either unless REDIS_NAMESPACE is set).
# - `Mime`: api_helper.rb builds a constant from ActionDispatch's Mime types at load time; only the
#   create/insertDocument content-type checks read it, and no task here calls them.
# - `TenantSetting`: an ActiveRecord model (PostgreSQL); api_helper.rb asks it for tenant defaults only
#   for `create` and `join`, which no task here sends. Multitenancy is off (MULTITENANCY_ENABLED unset).
# - Network: a node's URL host is looked up in "routes" and the call goes, over plain HTTP, to that local
#   BigBlueButton API server (test/support/bbbApiServer.ts); any other host is refused like a closed port,
#   so a test never reaches outside the machine. DNS and TLS of the real nodes are the outside world;
#   what Scalelite signs and sends, and what it decides from the answer, is unchanged.
# - `db:prepare`, `db:version`: these are ActiveRecord's tasks against PostgreSQL, which Scalelite keeps
#   for recordings and tenants only (servers and meetings live in Redis). Without "databaseUrl" in the
#   config they are modelled on a state file (dbState): db:prepare loads the schema (version read from the
#   tree's db/schema.rb), db:version prints "Current version: N" or fails like ActiveRecord when the
#   database does not exist.
# - With "databaseUrl" (a real PostgreSQL the test started), the recordings side is Scalelite's own too:
#   Debian's ruby-activerecord 6.1 + ruby-pg load the ActiveRecord models (recording.rb, metadatum.rb,
#   playback_format.rb, thumbnail.rb, callback_data.rb), lib/recording_importer.rb,
#   lib/post_importer_scripts.rb and app/services/recording_ready_notifier_service.rb (ruby-jwt), and
#   lib/tasks/recordings.rake (`recordings:watch`, the importer container's loop). db:prepare loads the
#   tree's db/schema.rb into that database: the file is written for `ActiveRecord::Schema[7.2]`, a
#   versioned form ActiveRecord 7 added; 6.1's ActiveRecord::Schema takes the same table definitions,
#   so `Schema[version]` answers the class itself. The importer's directories and switches come from
#   the environment variables config/application.rb reads (RECORDING_SPOOL_DIR, RECORDING_WORK_DIR,
#   RECORDING_PUBLISH_DIR, RECORDING_UNPUBLISH_DIR, ...) with the same defaults.
require 'json'
require 'logger'
require_relative 'libraries'

CONFIG = JSON.parse(File.read(ENV.fetch('BBB_OVH_SCALELITE_CONFIG') do
  warn('no Scalelite harness for this host: the test must start one (test/support/scalelite/harness.ts)')
  exit(97)
end))

# ---------------------------------------------------------------- db:* (ActiveRecord, see above)

def schema_version
  File.read(File.join(CONFIG.fetch('scaleliteTree'), 'db/schema.rb'))[/define\(version: ([\d_]+)\)/, 1].delete('_')
end

def run_db_task(name)
  return run_real_db_task(name) if CONFIG['databaseUrl']

  state = CONFIG.fetch('dbState')
  case name
  when 'db:prepare', 'db:setup', 'db:schema:load'
    # db:setup / db:schema:load are what the api image's bin/start runs on a fresh database.
    File.write(state, "#{schema_version}\n")
  when 'db:version'
    unless File.exist?(state)
      warn("rake aborted!\nActiveRecord::NoDatabaseError: We could not find your database: scalelite.")
      exit(1)
    end
    puts("Current version: #{File.read(state).strip}")
  end
end

# db:prepare / db:version against the real database (only with "databaseUrl"; models loaded below).
def run_real_db_task(name)
  case name
  when 'db:prepare', 'db:setup', 'db:schema:load'
    # Schema[7.2] is ActiveRecord 7's versioned form (6.1's Migration[] knows versions up to 6.1 only);
    # 6.1 defines the same tables with the plain class.
    ActiveRecord::Schema.define_singleton_method(:[]) { |_version| self }
    ActiveRecord::Migration.verbose = false
    load File.join(TREE, 'db/schema.rb')
  when 'db:version'
    puts("Current version: #{ActiveRecord::Base.connection.migration_context.current_version}")
  end
end

db_tasks, other_tasks = ARGV.partition { |arg| arg.start_with?('db:') }
if !db_tasks.empty? && !CONFIG['databaseUrl']
  abort('harness: db:* tasks cannot be mixed with other tasks in one call') unless other_tasks.empty?
  db_tasks.each { |task| run_db_task(task) }
  exit(0)
end

# ---------------------------------------------------------------- Scalelite's own code

TREE = CONFIG.fetch('scaleliteTree')
$LOAD_PATH.unshift(File.join(CONFIG.fetch('tabuloTree'), 'lib'))

LIBRARIES.each { |library| require library }
require 'tabulo'

Time.zone_default = Time.find_zone!(RAILS_TIME_ZONE)

module Rails
  def self.logger
    @logger ||= ActiveSupport::Logger.new($stdout).tap do |logger|
      $stdout.sync = true
      logger.formatter = Logger::Formatter.new
      logger.level = ENV.fetch('RAILS_LOG_LEVEL', 'debug')
    end
  end

  def self.configuration
    @configuration ||= Struct.new(:x).new(scalelite_x)
  end

  # The values config/application.rb (v1.8.5) reads, from the same variables with the same defaults.
  def self.scalelite_x
    list = ->(name) { ENV.fetch(name, '').split(',').to_h { |param| param.split('=', 2) }.symbolize_keys }
    x = ActiveSupport::OrderedOptions.new
    x.redis_store = ActiveSupport::OrderedOptions.new.merge!(url: CONFIG.fetch('redisUrl'))
    x.loadbalancer_checksum_algorithms = ENV.fetch('LOADBALANCER_CHECKSUM_ALGORITHM', 'SHA1:SHA256:SHA512').split(':')
    x.server_healthy_threshold = ENV.fetch('SERVER_HEALTHY_THRESHOLD', '1').to_i
    x.server_unhealthy_threshold = ENV.fetch('SERVER_UNHEALTHY_THRESHOLD', '2').to_i
    x.open_timeout = ENV.fetch('CONNECT_TIMEOUT', '5').to_f
    x.read_timeout = ENV.fetch('RESPONSE_TIMEOUT', '10').to_f
    x.load_min_user_count = ENV.fetch('LOAD_MIN_USER_COUNT', 15).to_i
    x.load_join_buffer_time = ENV.fetch('LOAD_JOIN_BUFFER_TIME', 15).to_i.minutes
    x.server_id_is_hostname = ENV.fetch('SERVER_ID_IS_HOSTNAME', 'false').casecmp?('true')
    x.poller_threads = ENV.fetch('POLLER_THREADS', 5).to_i
    x.poller_wait_timeout = ENV.fetch('POLLER_WAIT_TIMEOUT', 10).to_i
    x.default_create_params = list.call('DEFAULT_CREATE_PARAMS')
    x.override_create_params = list.call('OVERRIDE_CREATE_PARAMS')
    x.default_join_params = list.call('DEFAULT_JOIN_PARAMS')
    x.override_join_params = list.call('OVERRIDE_JOIN_PARAMS')
    x.voice_bridge_len = ENV.fetch('VOICE_BRIDGE_LEN', 9).to_i
    x.use_external_voice_bridge = ENV.fetch('USE_EXTERNAL_VOICE_BRIDGE', 'false').casecmp?('true')
    x.default_meeting_ttl = ENV.fetch('DEFAULT_MEETING_TTL', 24 * 60 * 60).to_i
    x.multitenancy_enabled = false
    %w[spool work publish unpublish].zip(%w[spool recording/scalelite published unpublished]).each do |name, default|
      x["recording_#{name}_dir"] = File.absolute_path(ENV.fetch("RECORDING_#{name.upcase}_DIR", "/var/bigbluebutton/#{default}"))
    end
    x.recording_disabled = ENV.fetch('RECORDING_DISABLED', 'false').casecmp?('true')
    x.recording_import_unpublished = ENV.fetch('RECORDING_IMPORT_UNPUBLISHED', 'false').casecmp?('true')
    x.protected_recordings_enabled = ENV.fetch('PROTECTED_RECORDINGS_ENABLED', 'false').casecmp?('true')
    x.db_connection_retry_count = ENV.fetch('DB_CONNECTION_RETRY_COUNT', '3').to_i
    x
  end
end

module Mime
  def self.[](type) = type
end

class TenantSetting
  def self.defaults_and_overrides(_tenant_id)
    raise NotImplementedError, 'tenant settings (create/join) are outside this harness'
  end
end

# Node hosts go to their local BBB API server; every other host is refused (see the header).
module LoopbackRoutes
  def start(address, *args, &block)
    options = args.last.is_a?(Hash) ? args.pop : {}
    route = CONFIG.fetch('routes', {})[address]
    raise Errno::ECONNREFUSED, "#{address} (no local BigBlueButton API server routed for this host)" if route.nil?

    target = URI.parse(route)
    args[0] = target.port
    super(target.host, *args, options.merge(use_ssl: target.scheme == 'https'), &block)
  end
end
Net::HTTP.singleton_class.prepend(LoopbackRoutes)

%w[
  app/controllers/concerns/bbb_errors.rb app/controllers/concerns/api_helper.rb
  lib/redis_store.rb app/models/application_redis_record.rb app/models/server.rb app/models/meeting.rb
  lib/server_sync.rb
].each { |file| require File.join(TREE, file) }

# ---------------------------------------------------------------- ActiveRecord on a real PostgreSQL (see the header)

if CONFIG['databaseUrl']
  # tmpdir (Dir.mktmpdir) is loaded by Rails itself, not by ActiveRecord.
  DATABASE_LIBRARIES.each { |library| require library }

  # What Rails' ActiveRecord railtie does: the models log through Rails.logger.
  ActiveRecord::Base.logger = Rails.logger
  ActiveRecord::Base.establish_connection(CONFIG.fetch('databaseUrl'))

  %w[
    app/models/application_record.rb app/models/recording.rb app/models/metadatum.rb app/models/playback_format.rb
    app/models/thumbnail.rb app/models/callback_data.rb lib/recording_importer.rb lib/post_importer_scripts.rb
    app/services/recording_ready_notifier_service.rb
  ].each { |file| require File.join(TREE, file) }

  unless db_tasks.empty?
    abort('harness: db:* tasks cannot be mixed with other tasks in one call') unless other_tasks.empty?
    db_tasks.each { |task| run_real_db_task(task) }
    exit(0)
  end
end

# `-e SNIPPET`: Ruby run with the models loaded, for what no task shows (e.g. Server.find_available,
# the balancer's choice for a create).
if ARGV.first == '-e'
  eval(ARGV.fetch(1)) # rubocop:disable Security/Eval
  exit(0)
end

app = Rake.application
app.standard_exception_handling do
  app.init('rake', ARGV)
  Rake::Task.define_task(:environment) # Rails' task loads the app; everything above is that app
  rakefiles = %w[servers status poll]
  rakefiles << 'recordings' if CONFIG['databaseUrl']
  rakefiles.each { |name| Rake.load_rakefile(File.join(TREE, "lib/tasks/#{name}.rake")) }
  app.top_level
end
