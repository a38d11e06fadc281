# frozen_string_literal: true

# The libraries rake.rb runs Scalelite's code on (rake.rb's header says which and why), in one list:
# rake.rb requires them, and rakeServer.rb loads them once so that each call forks instead of loading
# them again (about 0.5 s a call). ActiveRecord's are loaded by rake.rb only with a database.
LIBRARIES = %w[active_support active_support/all active_model redis connection_pool nokogiri net/http rake yaml].freeze
DATABASE_LIBRARIES = %w[active_record pg jwt tmpdir].freeze

# What Scalelite's own files and rake.rb then load of those libraries as they run: files they require
# (api_helper.rb's resolv-replace, the rake files' ostruct and concurrent-ruby, the PostgreSQL adapter
# `establish_connection` loads), the constants whose autoload they trigger (`include ActiveModel::Dirty`,
# `< ActiveRecord::Base`), and the UTC zone rake.rb looks up (TZInfo's data). Library code, the same
# whenever it loads: rakeServer.rb loads it once too. Measured in a fork of the server, loading a call took
# 82 ms of CPU without this and 58 ms with it; with a database, 280 and 94 ms.
PRELOADED_FILES = %w[
  resolv-replace ostruct concurrent-ruby weakref json active_support/callbacks active_support/descendants_tracker
  active_support/ordered_options active_support/fork_tracker active_record/connection_adapters/postgresql_adapter
].freeze
PRELOADED_CONSTANTS = %w[
  ActiveModel::Model ActiveModel::AttributeMethods ActiveModel::Dirty ActiveModel::Naming ActiveModel::Validations
  ActiveModel::Callbacks ActiveModel::Translation ActiveModel::Type ActiveRecord::Base ActiveRecord::Enum
  ActiveRecord::Relation ActiveRecord::Associations::CollectionProxy ActiveRecord::Associations::Builder::HasMany
  ActiveRecord::Associations::Builder::BelongsTo ActiveRecord::ConnectionAdapters::PoolConfig
].freeze
RAILS_TIME_ZONE = 'UTC' # Rails' default config.time_zone, which rake.rb sets
